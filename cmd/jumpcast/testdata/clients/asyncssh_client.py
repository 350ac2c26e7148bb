"""Drive jumpcast with asyncssh as automation does (issue 15's suite).

Reads the same JSON job as paramiko_client.py on stdin and writes the same
JSON result: a command with run(), a shell with create_process(term_type=…)
on the same connection, and SFTP put and get. The password (null for a key
target) is given to connect(), which answers the bastion's second login
step with it (keyboard-interactive or password).
"""
import asyncio
import json
import sys

import asyncssh

TIMEOUT = 30


async def drive(job):
    known = asyncssh.import_known_hosts("[%s]:%d %s\n" % (job["host"], job["port"], job["host_key"]))
    async with asyncssh.connect(job["host"], port=job["port"], username=job["user"],
                                client_keys=[job["key"]], password=job["password"],
                                known_hosts=known, agent_path=None,
                                login_timeout=TIMEOUT) as conn:
        result = {}
        r = await asyncio.wait_for(conn.run(job["command"]), TIMEOUT)
        result["exec_stdout"] = r.stdout
        result["exec_status"] = r.exit_status

        proc = await asyncio.wait_for(conn.create_process(term_type="xterm", term_size=(100, 30)), TIMEOUT)
        proc.stdin.write(job["shell_input"])
        result["shell_output"] = await asyncio.wait_for(proc.stdout.read(), TIMEOUT)
        await asyncio.wait_for(proc.wait(), TIMEOUT)
        result["shell_status"] = proc.exit_status

        async with conn.start_sftp_client() as sftp:
            await asyncio.wait_for(sftp.put(job["put"][0], job["put"][1]), TIMEOUT)
            await asyncio.wait_for(sftp.get(job["get"][0], job["get"][1]), TIMEOUT)
        return result


def main():
    job = json.load(sys.stdin)
    json.dump(asyncio.run(drive(job)), sys.stdout)


if __name__ == "__main__":
    main()
