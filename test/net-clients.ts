// Linux-side clients for the network tests: what a Linux program (not Wine) reaches.
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { connect } from 'node:net';

export function linuxTcpFirstLine(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: address, port }, () => s.write('x\n'));
    let got = '';
    s.setTimeout(10_000, () => {
      s.destroy();
      reject(new Error(`timeout on ${address}:${port}`));
    });
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\n')) {
        s.destroy();
        resolve(got.split('\n')[0]!);
      }
    });
    s.on('error', reject);
  });
}

export function linuxUdp(address: string, port: number, msg: string): Promise<{ text: string; from: string }> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no UDP answer from ${address}:${port}`));
    }, 10_000);
    s.on('message', (m, r) => {
      clearTimeout(t);
      s.close();
      resolve({ text: m.toString(), from: `${r.address}:${r.port}` });
    });
    s.connect(port, address, () => s.send(msg));
  });
}

export function linuxHttp(address: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`HTTP timeout on ${address}:${port}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Whether a TCP connection to address:port completes within ms: 'connected', or why not
 *  ('refused', 'timeout': a dropped SYN, the error code otherwise). */
export function linuxTcpReaches(address: string, port: number, ms = 1500): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, ms);
    s.on('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(e.code === 'ECONNREFUSED' ? 'refused' : (e.code ?? 'error'));
    });
  });
}
