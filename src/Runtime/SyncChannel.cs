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
public static class SyncFds
{
    public const int InitReportFd = 3, InitCommandFd = 4;
}

/// <summary>The messages of the protocol above (and of exec and of the monitor's start report), encoded as one line
/// each and decoded only here.</summary>
public abstract record SyncMessage
{
    /// <summary>init → parent: the root is ready.</summary>
    public sealed record Mounted : SyncMessage;
    /// <summary>parent → init: /dev/pts/N is the container's terminal.</summary>
    public sealed record Pty(int Number) : SyncMessage;
    /// <summary>parent → init: exec the program.</summary>
    public sealed record Start : SyncMessage;
    /// <summary>monitor → CLI of a detached run: the program runs.</summary>
    public sealed record Started : SyncMessage;
    /// <summary>parent → exec's init: what to run, as JSON.</summary>
    public sealed record Exec(ExecSpec Spec) : SyncMessage;
    /// <summary>any child → its parent: the step that failed, with Docker's exit code; the child exits after it.</summary>
    public sealed record Failed(int Code, string Text) : SyncMessage
    {
        public ContainerException ToException() => new(Text, Code);
    }
    /// <summary>A line that is none of the above (a version mismatch, or garbage).</summary>
    public sealed record Unknown(string Line) : SyncMessage;

    public string Encode() => this switch
    {
        Mounted => "mounted",
        Pty p => $"pty {p.Number}",
        Start => "start",
        Started => "started",
        Exec e => "exec " + System.Text.Json.JsonSerializer.Serialize(e.Spec, RuntimeJson.Default.ExecSpec),
        Failed f => $"error {f.Code} {f.Text.ReplaceLineEndings(" ")}",
        Unknown u => u.Line,
        _ => throw new InvalidOperationException(GetType().Name),
    };

    public static SyncMessage Decode(string line)
    {
        var parts = line.Split(' ', 3);
        return parts[0] switch
        {
            "mounted" when parts.Length == 1 => new Mounted(),
            "start" when parts.Length == 1 => new Start(),
            "started" when parts.Length == 1 => new Started(),
            "pty" when parts.Length == 2 && int.TryParse(parts[1], out int n) => new Pty(n),
            "exec" when line.Length > 5 && System.Text.Json.JsonSerializer.Deserialize(line[5..], RuntimeJson.Default.ExecSpec) is { } spec
                => new Exec(spec),
            "error" when parts.Length == 3 && int.TryParse(parts[1], out int code) => new Failed(code, parts[2]),
            _ => new Unknown(line),
        };
    }

    /// <summary>A failure the child reported, or an unexpected message, as the exception to throw.</summary>
    public ContainerException Unexpected(string from) => this is Failed f ? f.ToException()
        : new ContainerException($"unexpected message from {from}: {Encode()}");
}

/// <summary>One end of the line protocol over a pipe fd.</summary>
internal sealed unsafe class SyncChannel(int readFd, int writeFd)
{
    public void Send(SyncMessage message)
    {
        var bytes = Encoding.UTF8.GetBytes(message.Encode().Replace('\n', ' ') + "\n");
        fixed (byte* p = bytes)
        {
            int off = 0;
            while (off < bytes.Length)
            {
                nint n = Libc.write(writeFd, p + off, bytes.Length - off);
                if (n < 0 && Libc.LastErrno == Libc.EINTR) continue;
                if (n <= 0) throw new SyscallException("write", "sync pipe", Libc.LastErrno);
                off += (int)n;
            }
        }
    }

    /// <summary>The next message, or null at EOF.</summary>
    public SyncMessage? Receive() => ReceiveLine() is { } line ? SyncMessage.Decode(line) : null;

    private string? ReceiveLine()
    {
        var buf = new List<byte>(64);
        byte b;
        while (true)
        {
            nint n = Libc.read(readFd, &b, 1);
            if (n < 0 && Libc.LastErrno == Libc.EINTR) continue;
            if (n < 0) throw new SyscallException("read", "sync pipe", Libc.LastErrno);
            if (n == 0) return buf.Count == 0 ? null : Encoding.UTF8.GetString(buf.ToArray());
            if (b == '\n') return Encoding.UTF8.GetString(buf.ToArray());
            buf.Add(b);
        }
    }
}
