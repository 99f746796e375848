using System.Text;
using MiniDocker.Linux;
using MiniDocker.Runtime.Native;

namespace MiniDocker.Runtime;

/// <summary>
/// The parent↔init protocol: two pipes carrying one message per line. The init reads commands on fd 4 and writes
/// reports on fd 3 (the numbers are fixed so the init finds them after exec, like runc's _LIBCONTAINER_INITPIPE).
///
///   parent (run / monitor)                          init (PID 1 in the new namespaces)
///   ─────────────────────────────────────────       ──────────────────────────────────────────────────
///   posix_spawn from a thread that unshared
///   mnt, uts, ipc, pid, net, cgroup
///   host-side hooks (network into /proc/PID/ns/net)  rootfs: rprivate /, overlay, /proc, /sys, /dev, pivot_root
///                                              ◄──  mounted
///   [-t] open /proc/PID/root/dev/pts/ptmx
///   pty N                                      ──►  [-t] /dev/pts/N becomes the controlling terminal
///   start                                      ──►  hostname, cwd, capabilities, execve(program)
///                                              ◄──  EOF: exec succeeded (fd 3 is CLOEXEC by then)
///                                              ◄──  error CODE TEXT  (then the init exits with CODE)
///
/// EOF on the command pipe before "start" means the parent died: the init exits, and the namespaces (with the
/// overlay mount and the container's veth end) vanish with it.
/// </summary>
public static class SyncMessage
{
    public const string Mounted = "mounted", Pty = "pty", Start = "start", Error = "error";
    public const int InitReportFd = 3, InitCommandFd = 4;
}

/// <summary>One end of the line protocol over a pipe fd.</summary>
internal sealed unsafe class SyncChannel(int readFd, int writeFd)
{
    public void Send(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line.Replace('\n', ' ') + "\n");
        fixed (byte* p = bytes)
        {
            int off = 0;
            while (off < bytes.Length)
            {
                nint n = Libc.write(writeFd, p + off, bytes.Length - off);
                if (n < 0 && Libc.LastErrno == 4 /* EINTR */) continue;
                if (n <= 0) throw new SyscallException("write", "sync pipe", Libc.LastErrno);
                off += (int)n;
            }
        }
    }

    /// <summary>The next line, or null at EOF.</summary>
    public string? Receive()
    {
        var buf = new List<byte>(64);
        byte b;
        while (true)
        {
            nint n = Libc.read(readFd, &b, 1);
            if (n < 0 && Libc.LastErrno == 4) continue;
            if (n < 0) throw new SyscallException("read", "sync pipe", Libc.LastErrno);
            if (n == 0) return buf.Count == 0 ? null : Encoding.UTF8.GetString(buf.ToArray());
            if (b == '\n') return Encoding.UTF8.GetString(buf.ToArray());
            buf.Add(b);
        }
    }
}
