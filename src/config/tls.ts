/**
 * The files of `gobgp.tls`: read, checked (PEM certificates that parse, a
 * private key that parses and belongs to the client certificate) and handed
 * over as bytes. Used at start and by `check-config` (through the config
 * environment, so each problem names its key path and exits 2 before
 * anything is touched), and by the gRPC client again on SIGHUP and on every
 * reconnect. Messages never quote file contents: a key stays out of logs.
 *
 * @module
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import type { ConfigIssue } from "./errors.ts";
import type { TlsConfig } from "./types.ts";

/** What the gRPC client needs for TLS, read from the files. */
export interface TlsMaterial {
  /** CA certificates, PEM. */
  ca: Uint8Array;
  /** Client certificate chain and key, PEM; both or neither. */
  cert: Uint8Array | undefined;
  key: Uint8Array | undefined;
  /** The name gobgpd's certificate must carry; undefined = the address's host. */
  serverName: string | undefined;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function _reason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory";
  return error instanceof Error ? error.message : String(error);
}

function _read(path: string): Uint8Array | string {
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) return "not a regular file";
    if (info.size > 1024 * 1024) return "larger than 1 MiB, not a PEM file";
    return Deno.readFileSync(path);
  } catch (error) {
    return _reason(error);
  }
}

/** The certificates of a PEM file, or why not. */
function _certificates(bytes: Uint8Array): X509Certificate[] | string {
  const blocks = new TextDecoder().decode(bytes).match(PEM_CERT) ?? [];
  if (blocks.length === 0) return "holds no PEM certificate block";
  const certs: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch (error) {
      return `certificate ${i + 1} does not parse (${_reason(error)})`;
    }
  }
  return certs;
}

/**
 * Reads and checks the `gobgp.tls` files.
 *
 * @returns the material, or one issue per problem (key path, file, reason)
 */
export function readTlsMaterial(
  tls: TlsConfig,
): { material: TlsMaterial } | { issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const refuse = (key: string, path: string, reason: string) =>
    issues.push({ path: `gobgp.tls.${key}`, message: `"${path}": ${reason}` });

  const ca = _read(tls.caFile);
  if (typeof ca === "string") refuse("caFile", tls.caFile, ca);
  else {
    const certs = _certificates(ca);
    if (typeof certs === "string") refuse("caFile", tls.caFile, certs);
  }

  let cert: Uint8Array | string | undefined;
  let leaf: X509Certificate | undefined;
  if (tls.certFile !== undefined) {
    cert = _read(tls.certFile);
    if (typeof cert === "string") refuse("certFile", tls.certFile, cert);
    else {
      const certs = _certificates(cert);
      if (typeof certs === "string") refuse("certFile", tls.certFile, certs);
      else leaf = certs[0];
    }
  }
  let key: Uint8Array | string | undefined;
  let keyObject: KeyObject | undefined;
  if (tls.keyFile !== undefined) {
    key = _read(tls.keyFile);
    if (typeof key === "string") refuse("keyFile", tls.keyFile, key);
    else {
      try {
        keyObject = createPrivateKey({ key: new TextDecoder().decode(key), format: "pem" });
      } catch {
        // The library's message may quote the input: say only what it is not.
        refuse("keyFile", tls.keyFile, "is not an unencrypted PEM private key");
      }
    }
  }
  if (leaf && keyObject && !leaf.checkPrivateKey(keyObject)) {
    refuse(
      "keyFile",
      tls.keyFile!,
      `is not the private key of gobgp.tls.certFile "${tls.certFile}"`,
    );
  }
  if (issues.length > 0) return { issues };
  return {
    material: {
      ca: ca as Uint8Array,
      cert: cert as Uint8Array | undefined,
      key: key as Uint8Array | undefined,
      serverName: tls.serverName,
    },
  };
}

/** True when both hold the same bytes (a re-read found nothing new). */
export function sameTlsMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  const same = (x: Uint8Array | undefined, y: Uint8Array | undefined) =>
    x === y || (x !== undefined && y !== undefined && x.length === y.length &&
      x.every((v, i) => v === y[i]));
  return same(a.ca, b.ca) && same(a.cert, b.cert) && same(a.key, b.key) &&
    a.serverName === b.serverName;
}
