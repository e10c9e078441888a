// A real OpenSSH sshd on a loopback port for the end-to-end tests: its own
// config and host key in a temp dir, and a throwaway Unix user that logs in
// with a fresh ed25519 key (the account the bastion uses). Needs root, as CI
// runs; removed (user, processes, files) by stop().
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/**
 * startSshd answers { port, user, home, privateKey, stop() } once sshd accepts
 * connections; it throws with the reason when it cannot (not root, no sshd).
 */
export async function startSshd() {
  if (process.getuid?.() !== 0) throw new Error('startSshd needs root (sshd and a throwaway user)')
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-e2e-sshd-'))
  await chmod(dir, 0o755)
  const user = `pce2e${randomBytes(4).toString('hex')}`
  const home = path.join(dir, 'home')
  execFileSync('useradd', ['-m', '-d', home, '-s', '/bin/bash', user])
  const cleanup = () => {
    try {
      execFileSync('pkill', ['-KILL', '-u', user], { stdio: 'ignore' })
    } catch {
      // no process left
    }
    try {
      execFileSync('userdel', ['-f', user], { stdio: 'ignore' })
    } catch {
      // already gone
    }
  }
  process.on('exit', cleanup)
  // A new account is locked ("!" in /etc/shadow) and sshd refuses even a key
  // for it: give it a random password nobody uses.
  execFileSync('chpasswd', { input: `${user}:Tgt-${randomBytes(12).toString('hex')}\n` })
  const keyPath = path.join(dir, 'user_ed25519')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath])
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_ed25519')])
  const port = await freePort()
  await writeFile(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_ed25519')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${keyPath}.pub`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      `AllowUsers ${user}`,
      'PrintMotd no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
    { mode: 0o600 },
  )
  await mkdir('/run/sshd', { recursive: true })
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c))
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy()
        resolve(true)
      })
      c.on('error', () => resolve(false))
    })
    if (ok) break
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      cleanup()
      throw new Error(`sshd did not listen on ${port}: ${stderr}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    port,
    user,
    home,
    privateKey: await readFile(keyPath, 'utf8'),
    async stop() {
      child.kill('SIGKILL')
      cleanup()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
