using MiniDocker.Linux;
using MiniDocker.Runtime.Cgroups;
using MiniDocker.Runtime.Native;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime;

/// <summary>Where the container's stdio goes. Null fds are inherited from this process as they are.</summary>
public sealed record Stdio(int? In = null, int? Out = null, int? Err = null);

/// <summary>
/// Host side of starting a container: spawns the init into new namespaces, runs the hooks at "created, not yet
/// started", opens the terminal, releases the program, and later reaps it. Each step registers its undo, so a
/// failure at step N undoes N-1..1 and leaves nothing behind.
/// </summary>
public sealed class Launcher(ContainerStore store, IReadOnlyList<IContainerHook> hooks)
{
    private readonly ICgroupManager _cgroups = CgroupManagers.ForRoot(store.Root);

    public RunningContainer Start(ContainerConfig config, Stdio stdio)
    {
        string dir = store.DirectoryOf(config.Id);
        if (!Directory.Exists(config.RootfsLower) || (config.RootfsLowers ?? []).Any(l => !Directory.Exists(l)))
            throw new ContainerException($"container {config.ShortId} cannot start: its image {config.Image} ({config.ImageId}) is no longer in the image store");
        WriteEtcFiles(config, dir);
        var undo = new Stack<Action>();
        try
        {
            // Pushed before the init exists, so it runs after the init's kill and reap (a cgroup with a process in it
            // cannot be removed); removing a cgroup that was never made is a no-op.
            undo.Push(() => _cgroups.Remove(config.Id));
            Userns.IdMapping? ids = null;
            if (config.OwnUserns)
            {
                ids = Userns.UsernsLaunch.Prepare(store, config, dir, out bool fresh);
                if (fresh) undo.Push(() => Userns.UsernsLaunch.Unprepare(store, config));
            }
            // Before the init exists, so no process of this container sees a volume half chowned.
            if (config.Mounts.Any(m => m.IsVolume)) new Volumes.VolumeStore(store.Root).FirstMount(config, ids);
            var (reportRead, reportWrite) = Fd.Pipe();
            var (commandRead, commandWrite) = Fd.Pipe();
            undo.Push(() => { reportRead.Dispose(); commandWrite.Dispose(); });
            int pid;
            using (reportWrite)
            using (commandRead)
                pid = SpawnInit(config, dir, stdio, reportWrite.Value, commandRead.Value);
            undo.Push(() => { kill(pid, SIGKILL); Reap(pid); });
            if (ids is not null)
            {
                FailPoint.Check("run.userns-cloned"); // cloned, not yet mapped: the undo must kill it and give the range back
                Userns.UsernsLaunch.MapAndMount(pid, ids, config, dir, commandWrite.Value);
            }
            // The cgroups are made while the init starts up and mounts (as runc applies them after `runc init` is
            // running): the init waits for "start" before the user's program runs and makes its cgroup namespace only
            // then, so nothing of the container runs outside them.
            _cgroups.Create(config.Id, CgroupSpec.For(config));
            FailPoint.Check("run.cgroup-made");
            _cgroups.AddProcess(config.Id, pid);
            FailPoint.Check("run.init-spawned");
            var channel = new SyncChannel(reportRead.Value, commandWrite.Value);
            // Under the store lock, like stop and rm, which set StopRequested and then signal the pid they read: either
            // they see this pid and kill it, or this start sees their request and gives up.
            store.UpdateState(config.Id, s =>
            {
                if (s.StopRequested) throw new ContainerException($"container {config.ShortId} was stopped or removed while it was starting");
                s.Pid = pid;
                s.PidStartTime = ProcStat.StartTimeOf(pid);
                s.Status = ContainerStatus.Created;
                s.CleanupPending = true; // the hooks' work and the cgroup
            });

            var context = new ContainerContext(config, dir, pid);
            try
            {
                foreach (var hook in hooks)
                {
                    undo.Push(() => hook.Stopped(context));
                    hook.Created(context);
                }
            }
            catch (Exception) when (channel.Receive() is not SyncMessage.Mounted and var initReport)
            {
                // The init failed first (and its namespaces went with it): that is the cause, not the hook that
                // then found no network namespace.
                throw initReport is null ? new ContainerException($"container init exited early ({DescribeExit(Reap(pid))})")
                                         : FailureFrom(initReport, pid);
            }

            ExpectMounted(channel, pid);
            Fd? ptyMaster = config.Tty ? OpenPty(pid, channel) : null;
            if (ptyMaster is not null) undo.Push(ptyMaster.Dispose);
            channel.Send(new SyncMessage.Start());
            if (channel.Receive() is { } report) throw FailureFrom(report, pid);

            reportRead.Dispose();
            commandWrite.Dispose();
            store.UpdateState(config.Id, s => { s.Status = ContainerStatus.Running; s.StartedAt = DateTimeOffset.UtcNow; s.ExitCode = 0; s.FinishedAt = null; s.Error = null; });
            FailPoint.Check("run.started");
            return new RunningContainer(this, context, ptyMaster);
        }
        catch (Exception e)
        {
            while (undo.Count > 0)
            {
                try { undo.Pop()(); } catch (Exception) { /* keep undoing: the first error is the one to report */ }
            }
            try
            {
                store.UpdateState(config.Id, s => { s.Status = ContainerStatus.Exited; s.Pid = 0; s.PidStartTime = 0; s.CleanupPending = false; s.ExitCode = (e as ContainerException)?.ExitCode ?? ExitCodes.RuntimeError; s.Error = e.Message; s.FinishedAt = DateTimeOffset.UtcNow; });
            }
            catch (IOException) { /* removed meanwhile (rm -f of a starting container): nothing to record */ }
            if (e is ContainerException) throw;
            throw new ContainerException(e.Message, ExitCodes.RuntimeError, e);
        }
    }

    private static void WriteEtcFiles(ContainerConfig config, string dir)
    {
        File.WriteAllText(Path.Combine(dir, "hostname"), config.Hostname + "\n");
        // A networked container's own name is added with its address by the network hook; only a container without
        // an address of its own gets the 127.0.1.1 line (so `hostname -i` resolves either way).
        string self = config.NetworkMode == "none" ? $"127.0.1.1\t{config.Hostname}\n" : "";
        File.WriteAllText(Path.Combine(dir, "hosts"), $"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{self}");
        File.WriteAllText(Path.Combine(dir, "resolv.conf"), ResolvConf.FromHost());
    }

    /// <summary>The init, spawned into fresh namespaces (see <see cref="Spawn.InNamespaces"/>).</summary>
    private static int SpawnInit(ContainerConfig config, string dir, Stdio stdio, int reportFd, int commandFd)
    {
        // No CLONE_NEWCGROUP here: the init makes its cgroup namespace after it is in its cgroups (ContainerInit.Exec),
        // so the namespace's root is the container's own cgroup, not the host's (as runc orders it).
        int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID;
        if (config.NetworkMode != "host") flags |= CLONE_NEWNET;
        var (path, argv) = SelfExe.Command();
        argv.AddRange(["init", dir]);
        var fdMap = new List<(int, int)> { (reportFd, SyncFds.InitReportFd), (commandFd, SyncFds.InitCommandFd) };
        if (stdio.In is int i) fdMap.Add((i, 0));
        if (stdio.Out is int o) fdMap.Add((o, 1));
        if (stdio.Err is int e) fdMap.Add((e, 2));
        if (config.OwnUserns) return Userns.UsernsLaunch.SpawnInit(path, argv, fdMap);
        return Spawn.InNamespaces(() =>
        {
            Check(unshare(flags), "unshare");
            ExecutableGuard.MakeReadOnly(path);
        }, path, argv, fdMap, "cannot create the container's namespaces");
    }

    private static void ExpectMounted(SyncChannel channel, int pid)
    {
        var report = channel.Receive();
        if (report is SyncMessage.Mounted) return;
        throw report is null ? new ContainerException($"container init exited early ({DescribeExit(Reap(pid))})")
                             : FailureFrom(report, pid);
    }

    private static ContainerException FailureFrom(SyncMessage report, int pid)
    {
        Reap(pid);
        return report.Unexpected("container init");
    }

    /// <summary>
    /// The terminal must come from the container's own devpts instance (or `tty` inside would not print
    /// /dev/pts/0). As root we open its ptmx through /proc/PID/root instead of passing the master fd back over a
    /// unix socket with SCM_RIGHTS.
    /// </summary>
    private static Fd OpenPty(int pid, SyncChannel channel)
    {
        var (master, number) = OpenPtyMaster(pid);
        channel.Send(new SyncMessage.Pty(number));
        return master;
    }

    /// <summary>A new pty of the container's devpts: the master, and the number of its slave (/dev/pts/N inside).</summary>
    internal static unsafe (Fd Master, int Number) OpenPtyMaster(int pid)
    {
        var master = Fd.Open($"/proc/{pid}/root/dev/pts/ptmx", O_RDWR | O_NOCTTY);
        int unlock = 0, number;
        Check(ioctl(master.Value, TIOCSPTLCK, &unlock), "ioctl(TIOCSPTLCK)", "ptmx");
        Check(ioctl(master.Value, TIOCGPTN, &number), "ioctl(TIOCGPTN)", "ptmx");
        // We, host root, made the pty, so its slave is host root's: in a --userns=auto container that is "nobody", and
        // its root could not open it (EACCES). It goes to the owner of the container's devpts, its own root.
        Tmds.Linux.stat pts;
        Check(fstatat(AT_FDCWD, $"/proc/{pid}/root/dev/pts", &pts, 0), "stat", "/dev/pts");
        if (pts.st_uid != 0 || pts.st_gid != 0)
            Check(fchownat(AT_FDCWD, $"/proc/{pid}/root/dev/pts/{number}", pts.st_uid, pts.st_gid, 0), "chown", $"/dev/pts/{number}");
        Terminal.CopyWindowSize(master.Value); // before the program starts: it may ask for its size at once
        return (master, number);
    }

    /// <summary>Waits for the process and returns its exit status the way a shell reports it (128+N for signal N).</summary>
    internal static unsafe int Reap(int pid)
    {
        int status;
        while (true)
        {
            int r = waitpid(pid, &status, 0);
            if (r == pid) break;
            if (r == -1 && LastErrno == 4) continue; // EINTR
            return ExitCodes.RuntimeError;     // ECHILD: already reaped
        }
        int signal = status & 0x7f;
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
    }

    private static string DescribeExit(int status) => status > 128 ? $"killed by signal {status - 128}" : $"exit status {status}";

    internal ContainerStore Store => store;

    /// <summary>Runs the hooks' undo and records the exit; <paramref name="alsoRecord"/> changes the state in the same
    /// write (the monitor's restart decision), so no reader sees the exit without it.</summary>
    internal void Finish(ContainerContext context, int exitCode, Action<ContainerState>? alsoRecord)
    {
        bool oomKilled = OomKilled(_cgroups, context.Config); // before the cgroup and its counters go
        RunStoppedHooks(hooks, context);
        RemoveCgroup(_cgroups, context.Config);
        store.UpdateState(context.Config.Id, s =>
        {
            s.Status = ContainerStatus.Exited;
            s.ExitCode = exitCode;
            s.Pid = 0;
            s.PidStartTime = 0;
            s.CleanupPending = false;
            s.FinishedAt = DateTimeOffset.UtcNow;
            s.OomKilled = oomKilled;
            alsoRecord?.Invoke(s);
        });
    }

    /// <summary>The container's cgroup, once its processes are gone; a failure is reported and `rm` tries again.</summary>
    internal static void RemoveCgroup(ICgroupManager cgroups, ContainerConfig config)
    {
        try { cgroups.Remove(config.Id); }
        catch (Exception e) { Console.Error.WriteLine($"minidocker: cleanup of {config.ShortId}: {e.Message}"); }
    }

    /// <summary>Whether the OOM killer struck in the container's cgroup; a cgroup that cannot be read says no.</summary>
    internal static bool OomKilled(ICgroupManager cgroups, ContainerConfig config)
    {
        try { return cgroups.OomKilled(config.Id); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or MiniDockerException) { return false; }
    }

    /// <summary>Every hook's Stopped, last first; one failing does not keep the others from undoing their part.</summary>
    internal static void RunStoppedHooks(IReadOnlyList<IContainerHook> hooks, ContainerContext context)
    {
        for (int i = hooks.Count - 1; i >= 0; i--)
        {
            try { hooks[i].Stopped(context); }
            catch (Exception e) { Console.Error.WriteLine($"minidocker: cleanup of {context.Config.ShortId}: {e.Message}"); }
        }
    }
}

/// <summary>A started container: its program runs; <see cref="Wait"/> reaps it and runs the hooks' undo.</summary>
public sealed class RunningContainer(Launcher launcher, ContainerContext context, Fd? ptyMaster)
{
    public int Pid => context.Pid;
    public Fd? PtyMaster => ptyMaster;
    public ContainerConfig Config => context.Config;

    public int Wait(Action<ContainerState>? alsoRecord = null)
    {
        int code = Launcher.Reap(context.Pid);
        launcher.Finish(context, code, alsoRecord);
        return code;
    }
}
