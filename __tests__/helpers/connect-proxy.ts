import { connect, createServer, type AddressInfo, type Socket } from 'node:net'

/**
 * A minimal CONNECT proxy on loopback, as a corporate one would be: it tunnels to 127.0.0.1 only
 * (bounded; anything else gets 403) and records each CONNECT target. `close` cuts the tunnels a
 * client left open, so a test's teardown never waits on them.
 */
export interface ConnectProxy {
  url: string
  port: number
  connects: string[]
  close: () => Promise<void>
}

export async function startConnectProxy(): Promise<ConnectProxy> {
  const connects: string[] = []
  const sockets = new Set<Socket>()
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  }
  const proxy = createServer(client => {
    track(client)
    client.once('data', (head: Buffer) => {
      const target = /^CONNECT (\S+) HTTP/.exec(head.toString('latin1'))?.[1] ?? ''
      connects.push(target)
      const [host, port] = target.split(':')
      if (host !== '127.0.0.1') {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n')
        return
      }
      const server = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        client.pipe(server)
        server.pipe(client)
      })
      track(server)
      server.on('error', () => client.destroy())
      client.on('error', () => server.destroy())
    })
  })
  await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
  const port = (proxy.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connects,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => proxy.close(() => resolve()))
    }
  }
}
