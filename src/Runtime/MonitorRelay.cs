using MiniDocker.Linux;
using MiniDocker.Runtime.Native;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime;

/// <summary>
/// The monitor while its container runs. Once the program has started, the monitor execve()s itself into this
/// role: the same process (so it stays the parent that reaps PID 1, and keeps holding owner.lock through the
/// inherited descriptor), but without the .NET runtime: the binary's C main() serves `monitor-relay` directly
/// (Native/monitor-relay.c, and why in C). It appends the container's output to container.log as Docker
/// json-file lines, reaps the program, and execve()s back into the full monitor (`monitor ID --resume PID:STATUS`),
/// which runs the hooks' undo, records the exit and applies the restart policy.
/// </summary>
public static class MonitorRelay
{
    /// <summary>Dispatched by the C main() in src/Cli/native/main.c, which spells it too.</summary>
    public const string Verb = "monitor-relay";

    /// <summary>
    /// Monitor side: becomes the relay for <paramref name="pid"/>, pumping <paramref name="outFd"/> (and
    /// <paramref name="errFd"/>, -1 for a terminal) into <paramref name="logPath"/> while holding
    /// <paramref name="ownerFd"/>, then runs <paramref name="resumeCommand"/> (path, then argv) with "--resume" and
    /// the exit status appended. Returns only if execve failed, with its errno.
    /// </summary>
    internal static unsafe int Become(int pid, string logPath, int outFd, int errFd, int ownerFd, IReadOnlyList<string> resumeCommand)
    {
        var (path, prefix) = SelfExe.Command();
        // The relay is the published binary's C main(); a framework-dependent run (dotnet minidocker.dll) has none.
        if (prefix.Count > 1) return 8; // ENOEXEC
        // These must survive execve: the streams, and owner.lock (the flock belongs to the open file, so the lock
        // stays held by this process, through the relay and back).
        SetCloexec(ownerFd, false);
        SetCloexec(outFd, false);
        if (errFd >= 0) SetCloexec(errFd, false);
        var argv = new List<string>(prefix) { Verb, pid.ToString(), logPath, outFd.ToString(), errFd.ToString(), "--" };
        argv.AddRange(resumeCommand);
        using var strings = new NativeStrings();
        execv(strings.Add(path), strings.AddArray(argv));
        int errno = LastErrno;
        SetCloexec(ownerFd, true);
        SetCloexec(outFd, true);
        if (errFd >= 0) SetCloexec(errFd, true);
        return errno;
    }
}
