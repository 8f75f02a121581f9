import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** A throw-away self-signed certificate for 127.0.0.1 (openssl), valid one day. */
export function selfSignedCertificate(dir: string): { key: Buffer; cert: string } {
  const keyPath = join(dir, 'tls.key')
  const certPath = join(dir, 'tls.crt')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath
    ],
    { stdio: 'ignore' }
  )
  return { key: readFileSync(keyPath), cert: readFileSync(certPath, 'utf8') }
}
