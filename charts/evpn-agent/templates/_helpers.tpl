{{/* Chart name, shortened to 63 characters. */}}
{{- define "evpn-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name: <release>-<chart> unless fullnameOverride. */}}
{{- define "evpn-agent.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "evpn-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "evpn-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "evpn-agent.labels" -}}
{{ include "evpn-agent.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "evpn-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "evpn-agent.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
A value as an environment string: null is "", whole numbers print without an
exponent (values.yaml numbers are float64 in Helm: 4294967295 would otherwise
print as 4.294967295e+09).
*/}}
{{- define "evpn-agent.envValue" -}}
{{- if kindIs "invalid" . -}}
{{- "" | quote -}}
{{- else if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{- int64 . | toString | quote -}}
{{- else -}}
{{- toString . | quote -}}
{{- end -}}
{{- end -}}

{{/* gobgpd's gRPC address as the agent dials it. */}}
{{- define "evpn-agent.gobgpAddress" -}}
{{- if .Values.agent.gobgpAddress -}}
{{- .Values.agent.gobgpAddress -}}
{{- else if .Values.gobgp.enabled -}}
{{- printf "127.0.0.1:%s" (include "evpn-agent.envValue" .Values.gobgp.apiPort | trimAll "\"") -}}
{{- else -}}
{{- fail "agent.gobgpAddress is required when gobgp.enabled is false: point it at an external gobgpd (HOST:PORT)" -}}
{{- end -}}
{{- end -}}

{{/* gobgp.neighbors as "ADDRESS,ASN,MULTIHOP_TTL" entries for render-config.sh. */}}
{{- define "evpn-agent.neighborsEnv" -}}
{{- $entries := list -}}
{{- range .Values.gobgp.neighbors -}}
{{- $asn := "" -}}
{{- if not (kindIs "invalid" .asn) -}}{{- $asn = include "evpn-agent.envValue" .asn | trimAll "\"" -}}{{- end -}}
{{- $ttl := "" -}}
{{- if not (kindIs "invalid" .multihopTtl) -}}{{- $ttl = include "evpn-agent.envValue" .multihopTtl | trimAll "\"" -}}{{- end -}}
{{- $entries = append $entries (printf "%s,%s,%s" .address $asn $ttl) -}}
{{- end -}}
{{- join " " $entries -}}
{{- end -}}

{{/* agent.vnis as "ID,COMMUNITY,DEVICE,UNDERLAY_INTERFACE" entries for render-config.sh. */}}
{{- define "evpn-agent.vnisEnv" -}}
{{- $entries := list -}}
{{- range .Values.agent.vnis -}}
{{- $id := include "evpn-agent.envValue" .id | trimAll "\"" -}}
{{- $entries = append $entries (printf "%s,%s,%s,%s" $id (.community | default "") (.device | default "") (.underlayInterface | default "")) -}}
{{- end -}}
{{- join " " $entries -}}
{{- end -}}

{{/* "true" or "false": hostNetwork as set, or by kind when null (DaemonSet: true). */}}
{{- define "evpn-agent.hostNetwork" -}}
{{- if kindIs "invalid" .Values.hostNetwork -}}
{{- eq .Values.kind "DaemonSet" | toString -}}
{{- else -}}
{{- .Values.hostNetwork | toString -}}
{{- end -}}
{{- end -}}

{{/* The workload as kubectl names it: deploy/<fullname> or ds/<fullname>. */}}
{{- define "evpn-agent.workloadRef" -}}
{{- printf "%s/%s" (ternary "ds" "deploy" (eq .Values.kind "DaemonSet")) (include "evpn-agent.fullname" .) -}}
{{- end -}}

{{/* Fails unless agent.http.enabled: monitoring objects scrape the HTTP endpoint. */}}
{{- define "evpn-agent.requireHttp" -}}
{{- if not .Values.agent.http.enabled -}}
{{- fail "monitoring.podMonitor and monitoring.serviceMonitor need agent.http.enabled=true (they scrape /metrics)" -}}
{{- end -}}
{{- end -}}
