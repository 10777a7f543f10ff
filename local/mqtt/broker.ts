import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

// AWS IoT Core's message broker, locally: aedes on MQTT over TCP, and over WebSocket on the HTTP
// port's /mqtt path (where AWS IoT Core serves it too). Anyone may connect: it is for development.
// aedes speaks MQTT 3.1.1, so MQTT 5 properties (message expiry) do not reach subscribers.

export interface BrokerMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain?: boolean;
  clientId?: string;
}

export interface LocalBroker {
  port: number;
  /** Publishes as IoT Core does for the connector's own messages. */
  publish: (message: BrokerMessage) => Promise<void>;
  /** Told of every message an MQTT client publishes (what IoT rules see). */
  onClientPublish: (listener: (message: BrokerMessage) => void) => void;
  /** Serves MQTT over WebSocket on an HTTP server's upgrade requests for `path`. */
  attachWebSocket: (server: HttpServer, path?: string) => void;
  close: () => Promise<void>;
}

export async function startBroker({
  port,
  host = '127.0.0.1',
}: {
  port: number;
  host?: string;
}): Promise<LocalBroker> {
  const aedes = await Aedes.createBroker();
  const listeners: ((message: BrokerMessage) => void)[] = [];
  aedes.on('publish', (packet, client) => {
    if (client === null || packet.topic.startsWith('$')) return;
    const message: BrokerMessage = {
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos: packet.qos === 0 ? 0 : 1,
      clientId: client.id,
    };
    for (const listener of listeners) listener(message);
  });

  const sockets = new Set<Socket | Duplex>();
  // No Nagle: an MQTT packet is written in pieces, and holding the last piece back until the
  // client's delayed ACK arrives costs up to 40 ms per message on an idle connection.
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const webSockets = new WebSocketServer({ noServer: true });

  return {
    port: (server.address() as AddressInfo).port,
    publish: ({ topic, payload, qos, retain = false }) =>
      new Promise((resolve, reject) => {
        aedes.publish({ cmd: 'publish', topic, payload, qos, retain, dup: false }, (error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
    onClientPublish: (listener) => {
      listeners.push(listener);
    },
    attachWebSocket: (httpServer, path = '/mqtt') => {
      httpServer.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
        if (new URL(request.url ?? '/', 'http://localhost').pathname !== path) {
          socket.destroy();
          return;
        }
        webSockets.handleUpgrade(request, socket, head, (webSocket) => {
          const stream = createWebSocketStream(webSocket);
          sockets.add(stream);
          stream.on('close', () => sockets.delete(stream));
          aedes.handle(stream, request);
        });
      });
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      webSockets.close();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      await new Promise<void>((resolve) => {
        aedes.close(() => {
          resolve();
        });
      });
    },
  };
}
