"""Drive jumpcast with paramiko as automation does (issue 15's suite).

Reads a JSON job on stdin: host, port, user, key (an OpenSSH private key
file), password (null for a key target), host_key ("TYPE BASE64" of the
bastion, checked with RejectPolicy), command, shell_input, put (local,
remote) and get (remote, local). Writes a JSON result on stdout: the
command's stdout and exit status, the shell's output and exit status.
The password goes to connect() only, which sends it as the second step of
the login after the key (paramiko's two-factor path) — which fails against
jumpcast: see compatRows.
"""
import base64
import json
import sys
import time

import paramiko

TIMEOUT = 30


def main():
    job = json.load(sys.stdin)
    client = paramiko.SSHClient()
    ktype, kdata = job["host_key"].split()[:2]
    key_class = {"ssh-ed25519": paramiko.Ed25519Key, "ssh-rsa": paramiko.RSAKey}[ktype]
    key = key_class(data=base64.b64decode(kdata))
    client.get_host_keys().add("[%s]:%d" % (job["host"], job["port"]), ktype, key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(job["host"], port=job["port"], username=job["user"],
                   key_filename=job["key"], password=job["password"],
                   look_for_keys=False, allow_agent=False,
                   timeout=TIMEOUT, banner_timeout=TIMEOUT, auth_timeout=TIMEOUT)
    result = {}

    _, stdout, _ = client.exec_command(job["command"], timeout=TIMEOUT)
    result["exec_stdout"] = stdout.read().decode()
    result["exec_status"] = stdout.channel.recv_exit_status()

    chan = client.invoke_shell(term="xterm", width=100, height=30)
    chan.settimeout(TIMEOUT)
    chan.sendall(job["shell_input"].encode())
    out = b""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        data = chan.recv(32768)
        if not data:
            break
        out += data
    result["shell_output"] = out.decode(errors="replace")
    result["shell_status"] = chan.recv_exit_status()

    sftp = client.open_sftp()
    sftp.get_channel().settimeout(TIMEOUT)
    sftp.put(job["put"][0], job["put"][1])
    sftp.get(job["get"][0], job["get"][1])
    sftp.close()
    client.close()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
