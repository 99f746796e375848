using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Native;

/// <summary>
/// A process held by a pidfd: signals and waits reach the process that was recorded, never one that got its pid
/// later (a pid is reused after a reboot, or after the container ended while nobody watched). It works for processes
/// that are not our children, which is what a container is to every command but its monitor.
/// </summary>
public sealed unsafe class ProcessHandle : IDisposable
{
    private readonly Fd _pidfd;
    public int Pid { get; }
    internal int PidFd => _pidfd.Value;

    private ProcessHandle(Fd pidfd, int pid) { _pidfd = pidfd; Pid = pid; }

    /// <summary>The running process <paramref name="pid"/> if it is the one that started at
    /// <paramref name="startTime"/> (0: not recorded, any); null when it has ended.</summary>
    public static ProcessHandle? Open(int pid, ulong startTime)
    {
        if (pid <= 0) return null;
        int fd = (int)syscall(SYS_pidfd_open, pid, 0, 0, 0);
        if (fd == -1)
        {
            if (LastErrno == ESRCH) return null;
            throw new SyscallException("pidfd_open", pid.ToString(), LastErrno);
        }
        var handle = new ProcessHandle(new Fd(fd), pid);
        // Checked after pidfd_open: if the start time matches now, the pidfd holds the recorded process.
        if (ProcStat.Read(pid) is not { } stat || stat.State == 'Z' || (startTime != 0 && stat.StartTime != startTime))
        {
            handle.Dispose();
            return null;
        }
        return handle;
    }

    public static bool IsAlive(int pid, ulong startTime)
    {
        if (pid <= 0) return false;
        return ProcStat.Read(pid) is { } stat && stat.State != 'Z' && (startTime == 0 || stat.StartTime == startTime);
    }

    /// <summary>Sends <paramref name="signal"/>; false when the process has already ended.</summary>
    public bool Signal(int signal)
    {
        if (syscall(SYS_pidfd_send_signal, _pidfd.Value, signal, 0, 0) == 0) return true;
        if (LastErrno == ESRCH) return false;
        throw new SyscallException("pidfd_send_signal", Pid.ToString(), LastErrno);
    }

    /// <summary>Waits until the process has ended (a zombie counts: its program is gone); false on timeout.</summary>
    public bool WaitExit(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            int ms = (int)Math.Clamp((deadline - DateTime.UtcNow).TotalMilliseconds, 0, int.MaxValue);
            var pfd = new PollFd { Fd = _pidfd.Value, Events = POLLIN };
            int r = poll(&pfd, 1, timeout == Timeout.InfiniteTimeSpan ? -1 : ms);
            if (r > 0) return true;
            if (r == 0) return false;
            if (LastErrno != EINTR) throw new SyscallException("poll", $"pidfd of {Pid}", LastErrno);
        }
    }

    public void Dispose() => _pidfd.Dispose();
}

/// <summary>The two fields of /proc/PID/stat the runtime needs.</summary>
public readonly record struct ProcStat(char State, ulong StartTime)
{
    public static ProcStat? Read(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
        int close = text.LastIndexOf(')');
        if (close < 0) return null;
        var fields = text[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
        return fields.Length > 19 && ulong.TryParse(fields[19], out ulong start) ? new ProcStat(fields[0][0], start) : null;
    }

    public static ulong StartTimeOf(int pid) => Read(pid)?.StartTime ?? 0;
}
