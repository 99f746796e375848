using MiniDocker.Linux;
using MiniDocker.Runtime.Native;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime;

/// <summary>
/// Detached containers (`run -d`): a small monitor process per container, in the spirit of podman's conmon. It is
/// minidocker re-executed as `minidocker monitor ID` in a session of its own; it starts the container, tells the
/// CLI "started" (or the error) over a pipe at fd 3, then owns the container's stdio: while the program runs it is
/// the <see cref="MonitorRelay"/> (same process, no .NET runtime), which writes the log as JSON lines (Docker's
/// json-file format); back here it records the exit status and restarts the program if its policy says so.
/// </summary>
public static class ContainerMonitor
{
    public const int ReportFd = 3;

    /// <summary>CLI side: spawn the monitor and wait until the container runs or failed.</summary>
    public static void StartDetached(string stateRoot, ContainerConfig config)
    {
        var (reportRead, reportWrite) = Fd.Pipe();
        using var devNull = Fd.Open("/dev/null", O_RDWR);
        var (path, argv) = SelfExe.Command();
        argv.AddRange(["--root", stateRoot, "monitor", config.Id]);
        var env = Spawn.HostEnvironment();
        using (reportWrite)
            Spawn.Start(path, argv, env, [(devNull.Value, 0), (devNull.Value, 1), (devNull.Value, 2), (reportWrite.Value, ReportFd)], newSession: true);
        using (reportRead)
        {
            switch (new SyncChannel(reportRead.Value, -1).Receive())
            {
                case SyncMessage.Started: return;
                case null: throw new ContainerException("the container's monitor exited before starting it");
                case var other: throw other.Unexpected("the container's monitor");
            }
        }
    }

    /// <summary>
    /// Monitor side: owns the container until it ends for good, restarting it as its policy says. Each time the
    /// program has started, the process becomes the <see cref="MonitorRelay"/> (execve, same pid) and comes back
    /// here with <paramref name="resume"/> once the program has exited.
    /// </summary>
    public static int Run(Launcher launcher, ContainerStore store, string id, MonitorResume? resume = null)
    {
        var reporter = new SyncChannel(-1, ReportFd);
        bool reported = resume is not null;
        Fd? owner = null;
        try
        {
            if (resume is null)
            {
                try { owner = store.Claim(id, TimeSpan.FromSeconds(2)); }
                catch (ContainerException) when (!Directory.Exists(store.DirectoryOf(id)))
                {
                    throw new ContainerException($"container {id[..12]} was removed before it started");
                }
            }
            else
            {
                // The lock taken before the relay, held all along through the inherited descriptor.
                owner = new Fd(resume.OwnerFd);
                SetCloexec(resume.OwnerFd, true);
            }
            var config = store.LoadConfig(id) ?? throw new ContainerException($"no such container: {id}");
            if (resume is null) store.UpdateState(id, s => s.MonitorPid = Environment.ProcessId);
            string logPath = ContainerLog.PathOf(store, id);
            int quickExits = resume?.QuickExits ?? 0;
            while (true)
            {
                bool restart = false;
                Action<ContainerState> decide = s =>
                {
                    restart = config.RestartPolicy.ShouldRestart(s.ExitCode, s.RestartCount, s.StopRequested);
                    if (!restart) return;
                    s.Status = ContainerStatus.Restarting;
                    s.RestartCount++;
                };
                int code;
                DateTimeOffset startedAt;
                if (resume is not null)
                {
                    startedAt = store.LoadState(id)?.StartedAt ?? DateTimeOffset.UtcNow;
                    code = resume.ExitCode;
                    launcher.Finish(new ContainerContext(config, store.DirectoryOf(id), resume.Pid), code, decide);
                    resume = null;
                }
                else
                {
                    startedAt = DateTimeOffset.UtcNow;
                    var (running, output, errors) = StartWithPipes(launcher, config);
                    if (!reported)
                    {
                        // A CLI killed while waiting for this is no reason to abandon a container that runs.
                        try { reporter.Send(new SyncMessage.Started()); } catch (SyscallException) { }
                        close(ReportFd);
                        reported = true;
                    }
                    var resumeCommand = ResumeCommand(store, id, owner.Value, quickExits);
                    int errno = MonitorRelay.Become(running.Pid, logPath, output.Value, errors?.Value ?? -1, owner.Value, resumeCommand);
                    // Still here: execve failed. Nobody would drain the program's output and it would block on a
                    // full pipe: stop it, and say why in its state (ps/inspect show the error).
                    kill(running.Pid, SIGKILL);
                    output.Dispose();
                    errors?.Dispose();
                    code = running.Wait(s => s.Error = $"monitor: cannot exec the log relay: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}");
                    if (config.AutoRemove) { store.Delete(id); Volumes.VolumeStore.RemoveAnonymousOf(store, config); }
                    return code;
                }
                if (!restart)
                {
                    if (config.AutoRemove) { store.Delete(id); Volumes.VolumeStore.RemoveAnonymousOf(store, config); }
                    return code;
                }
                quickExits = DateTimeOffset.UtcNow - startedAt < TimeSpan.FromSeconds(10) ? quickExits + 1 : 0;
                if (!SleepUnlessStopped(store, id, RestartPolicy.Delay(quickExits - 1)))
                {
                    store.UpdateState(id, s => s.Status = ContainerStatus.Exited);
                    return code;
                }
            }
        }
        catch (Exception e)
        {
            int code = e is ContainerException ce ? ce.ExitCode : ExitCodes.RuntimeError;
            // A container that never ran is not left behind, as with a foreground run; one that ran before keeps its
            // record and the error. One being stopped or removed is left to the command doing that. Removed before
            // the error is reported: the CLI exits on the report, and the user must not see a half-made container.
            if (owner is not null && store.LoadState(id) is { StartedAt: null, StopRequested: false }) store.Delete(id);
            if (!reported)
            {
                try { reporter.Send(new SyncMessage.Failed(code, e.Message)); } catch (SyscallException) { }
            }
            return code;
        }
        finally
        {
            owner?.Dispose();
        }
    }

    /// <summary>How the relay brings this monitor back: `minidocker --root R monitor ID --owner-fd N --quick-exits K`
    /// (the relay appends --resume PID:STATUS). Path first, then argv.</summary>
    private static List<string> ResumeCommand(ContainerStore store, string id, int ownerFd, int quickExits)
    {
        var (path, prefix) = SelfExe.Command();
        return [path, .. prefix, "--root", store.Root, "monitor", id, "--owner-fd", ownerFd.ToString(), "--quick-exits", quickExits.ToString()];
    }

    /// <summary>Starts the container with its stdout and stderr on pipes (or on a terminal: one stream).</summary>
    private static (RunningContainer Running, Fd Output, Fd? Errors) StartWithPipes(Launcher launcher, ContainerConfig config)
    {
        if (config.Tty)
        {
            var running = launcher.Start(config, new Stdio());
            return (running, running.PtyMaster!, null);
        }
        var (outRead, outWrite) = Fd.Pipe();
        var (errRead, errWrite) = Fd.Pipe();
        try
        {
            using (outWrite)
            using (errWrite)
                return (launcher.Start(config, new Stdio(Out: outWrite.Value, Err: errWrite.Value)), outRead, errRead);
        }
        catch
        {
            outRead.Dispose();
            errRead.Dispose();
            throw;
        }
    }

    /// <summary>The back-off before a restart; false when the user stopped the container meanwhile.</summary>
    private static bool SleepUnlessStopped(ContainerStore store, string id, TimeSpan delay)
    {
        var deadline = DateTime.UtcNow + delay;
        while (true)
        {
            if (store.LoadState(id) is not { StopRequested: false }) return false;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return true;
            Thread.Sleep(left < TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50));
        }
    }
}

/// <summary>Where the relay brings the monitor back: the program <paramref name="Pid"/> ended with
/// <paramref name="ExitCode"/> (128+N for signal N); <paramref name="OwnerFd"/> still holds owner.lock.</summary>
public sealed record MonitorResume(int Pid, int ExitCode, int OwnerFd, int QuickExits)
{
    /// <summary>From the monitor's options: --resume PID:STATUS, --owner-fd N, --quick-exits K.</summary>
    public static MonitorResume Parse(string resume, int ownerFd, int quickExits)
    {
        string[] parts = resume.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int pid) || !int.TryParse(parts[1], out int code) || ownerFd < 3)
            throw new ContainerException($"monitor: invalid --resume '{resume}' / --owner-fd {ownerFd}");
        return new MonitorResume(pid, code, ownerFd, quickExits);
    }
}
