using MiniDocker.Runtime.Native;
using static MiniDocker.Runtime.Native.Libc;

namespace MiniDocker.Runtime;

/// <summary>
/// The monitor while its container runs. Once the program has started, the monitor execve()s itself into this
/// role: the same process (so it stays the parent that reaps PID 1, and keeps holding owner.lock through the
/// inherited descriptor), but a fresh address space in which only this loop ever ran. A monitor that had parsed
/// its command line, read JSON state and set up the network kept those pages resident for the container's whole
/// life (about 9 MB of 10); this role keeps about what a bare NativeAOT process needs. When the program has exited
/// and its output is drained, it execve()s back into the full monitor (`monitor ID --resume ...`), which runs
/// the hooks' undo, records the exit and applies the restart policy.
/// <para>Entered straight from Main, before any command-line parsing, so none of that code is touched here.</para>
/// </summary>
public static class MonitorRelay
{
    public const string Verb = "monitor-relay";

    /// <summary>Lines longer than this are cut into several log entries (Docker cuts at 16 KiB too).</summary>
    private const int MaxLine = 16 * 1024;

    /// <summary>
    /// Monitor side: becomes the relay for <paramref name="pid"/>, pumping <paramref name="outFd"/> (and
    /// <paramref name="errFd"/>, -1 for a terminal) into <paramref name="logPath"/> while holding
    /// <paramref name="ownerFd"/>, then runs
    /// <paramref name="resumeCommand"/> (path, then argv) with "--resume" and the exit status appended. Returns only
    /// if execve failed, with its errno.
    /// </summary>
    internal static unsafe int Become(int pid, string logPath, int outFd, int errFd, int ownerFd, IReadOnlyList<string> resumeCommand)
    {
        // These three must survive execve: the streams, and owner.lock (the flock belongs to the open file, so the
        // lock stays held by this process, through the relay and back).
        SetCloexec(ownerFd, false);
        SetCloexec(outFd, false);
        if (errFd >= 0) SetCloexec(errFd, false);
        var (path, prefix) = SelfExe.Command();
        var argv = new List<string>(prefix) { Verb, pid.ToString(), logPath, outFd.ToString(), errFd.ToString(), "--" };
        argv.AddRange(resumeCommand);
        using var strings = new NativeStrings();
        execv(strings.Add(path), strings.AddArray(argv));
        int errno = Errno;
        SetCloexec(ownerFd, true);
        SetCloexec(outFd, true);
        if (errFd >= 0) SetCloexec(errFd, true);
        return errno;
    }

    /// <summary>Relay side: <c>monitor-relay PID LOG OUTFD ERRFD -- PATH ARGV...</c>.</summary>
    public static unsafe int Run(string[] args)
    {
        if (args.Length < 8 || args[5] != "--" || !int.TryParse(args[1], out int pid)
            || !int.TryParse(args[3], out int outFd) || !int.TryParse(args[4], out int errFd))
        {
            Console.Error.WriteLine("minidocker: monitor-relay is internal: PID LOG OUTFD ERRFD -- PATH ARGV...");
            return ExitCodes.RuntimeError;
        }
        PumpToLog(args[2], outFd, errFd);
        int code = Launcher.Reap(pid);

        using var strings = new NativeStrings();
        var argv = new List<string>(args.Length);
        for (int i = 7; i < args.Length; i++) argv.Add(args[i]);
        argv.Add("--resume");
        argv.Add($"{pid}:{code}");
        execv(strings.Add(args[6]), strings.AddArray(argv));
        // Not coming back: nobody undoes the network or records the exit. owner.lock is released as this process
        // ends, which is what the recovery in `ps`/`system prune` looks for.
        Console.Error.WriteLine($"minidocker: monitor-relay: cannot resume the monitor: errno {Errno}");
        return ExitCodes.RuntimeError;
    }

    /// <summary>Appends the streams to the log at <paramref name="logPath"/> until both end; closes them.</summary>
    internal static void PumpToLog(string logPath, Fd output, Fd? errors)
    {
        int outFd = output.Value, errFd = errors?.Value ?? -1;
        // Pump closes the descriptors itself; the handles must not close them a second time.
        output.SetHandleAsInvalid();
        errors?.SetHandleAsInvalid();
        PumpToLog(logPath, outFd, errFd);
    }

    private static void PumpToLog(string logPath, int outFd, int errFd)
    {
        int log = open(logPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0x1a0);
        // Without its log the container still runs and is still reaped: output is drained and dropped.
        Pump(log, outFd, errFd);
        if (log >= 0) close(log);
    }

    /// <summary>Copies both streams into the log until each has reached end of file (every writer, i.e. every
    /// process of the container, is gone) or fails (EIO from a pty master whose slave side is closed).</summary>
    private static unsafe void Pump(int log, int outFd, int errFd)
    {
        var streams = new List<OutputStream> { new(outFd, "stdout") };
        if (errFd >= 0) streams.Add(new OutputStream(errFd, "stderr"));
        byte* buffer = stackalloc byte[16384];
        PollFd* fds = stackalloc PollFd[2];
        var entry = new LogEntryWriter();
        while (streams.Count > 0)
        {
            for (int i = 0; i < streams.Count; i++) fds[i] = new PollFd { Fd = streams[i].Fd, Events = POLLIN };
            if (poll(fds, (nuint)streams.Count, -1) < 0)
            {
                if (Errno == EINTR) continue;
                break;
            }
            for (int i = streams.Count - 1; i >= 0; i--)
            {
                if (fds[i].Revents == 0) continue;
                var stream = streams[i];
                nint n = read(stream.Fd, buffer, 16384);
                if (n < 0 && Errno == EINTR) continue;
                if (n <= 0)
                {
                    stream.Flush(log, entry);
                    close(stream.Fd);
                    streams.RemoveAt(i);
                    continue;
                }
                stream.Take(new ReadOnlySpan<byte>(buffer, (int)n), log, entry);
            }
        }
    }

    /// <summary>One of the container's output streams and its unfinished line.</summary>
    private sealed class OutputStream(int fd, string name)
    {
        private byte[] _pending = new byte[256];
        private int _count;

        public int Fd => fd;

        public void Take(ReadOnlySpan<byte> data, int log, LogEntryWriter entry)
        {
            while (data.Length > 0)
            {
                int newline = data.IndexOf((byte)'\n');
                int take = newline >= 0 ? newline + 1 : data.Length;
                take = Math.Min(take, MaxLine - _count);
                Append(data[..take]);
                data = data[take..];
                if (_count == MaxLine || _pending[_count - 1] == '\n') Flush(log, entry);
            }
        }

        public void Flush(int log, LogEntryWriter entry)
        {
            if (_count == 0) return;
            entry.Write(log, name, _pending.AsSpan(0, _count));
            _count = 0;
        }

        private void Append(ReadOnlySpan<byte> data)
        {
            if (_count + data.Length > _pending.Length)
                Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _count + data.Length));
            data.CopyTo(_pending.AsSpan(_count));
            _count += data.Length;
        }
    }
}
