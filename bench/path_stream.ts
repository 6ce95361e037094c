/**
 * `AddPathStream` into gobgpd's global table: many paths per request, no
 * reply per request. Only the benchmark loads tables this way, so this
 * client lives here and not in the agent's gRPC edge (`src/bgp/client.ts`).
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { packageDefinition } from "../src/bgp/proto.ts";
import type { PathMessage } from "../src/bgp/path_codec.ts";

/** `apipb.TableType.GLOBAL`. */
const TABLE_GLOBAL = 0;

/** An open `AddPathStream` call (client-streaming). */
export interface PathStream {
  /**
   * Sends one request with `paths` (withdrawals carry `isWithdraw`); gobgpd
   * applies each request as it arrives. False when grpc-js asks to wait for
   * `"drain"` (the request is queued all the same).
   */
  write(paths: PathMessage[]): boolean;
  /** Half-closes the stream; resolves once gobgpd has applied every request. */
  end(): Promise<void>;
}

interface StreamStub extends grpc.Client {
  AddPathStream(
    callback: (error: grpc.ServiceError | null) => void,
  ): grpc.ClientWritableStream<{ tableType: number; paths: PathMessage[] }>;
}

/** A gRPC client of one gobgpd for `AddPathStream` calls. */
export class PathStreamClient implements Disposable {
  #stub: StreamStub;

  constructor(address: string) {
    const pkg = grpc.loadPackageDefinition(packageDefinition());
    const apipb = pkg["apipb"] as grpc.GrpcObject;
    const Ctor = apipb["GobgpApi"] as grpc.ServiceClientConstructor;
    this.#stub = new Ctor(address, grpc.credentials.createInsecure()) as unknown as StreamStub;
  }

  /** Opens one `AddPathStream` call. */
  open(): PathStream {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    promise.catch(() => {}); // reported by end(); never an unhandled rejection
    const call = this.#stub.AddPathStream((error) => error ? reject(error) : resolve());
    return {
      write: (paths) => call.write({ tableType: TABLE_GLOBAL, paths }),
      end: () => {
        call.end();
        return promise;
      },
    };
  }

  close(): void {
    this.#stub.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
