using MiniDocker.Linux;
using MiniDocker.Runtime.Native;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime;

/// <summary>
/// Verbs on existing containers. The truth about a container comes from three places, in this order: whether a live
/// process owns it (<see cref="ContainerStore.IsOwned"/>: its monitor, or the CLI of a foreground run), whether its
/// recorded process still exists (pid and start time), and last state.json. A container that nobody owns and whose
/// process is gone has crashed (kill -9 of its monitor, a host reboot), whatever state.json says.
/// </summary>
public sealed class Lifecycle(ContainerStore store, IReadOnlyList<IContainerHook> hooks)
{
    private readonly Cgroups.ICgroupManager _cgroups = Cgroups.CgroupManagers.ForRoot(store.Root);

    /// <summary>How long stop and rm wait for a container's owner to record its end and undo its hooks.</summary>
    private static readonly TimeSpan OwnerPatience = TimeSpan.FromSeconds(30);

    public const string CrashedError = "exit status unknown: nothing was watching the container when it ended (its monitor was killed, or the host rebooted)";
    public const int CrashedExitCode = 255;

    public sealed record Observed(ContainerStore.Entry Entry, ContainerStatus Status);

    public ContainerStatus StatusOf(ContainerStore.Entry entry)
    {
        var s = entry.State;
        if (s.Status == ContainerStatus.Exited || IsUntouched(s)) return s.Status;
        if (store.IsOwned(entry.Config.Id)) return s.Status;
        // Unowned with its process alive: it runs, also when the owner died between "start" and recording Running
        // (an init that never got "start" exits at once when its parent's pipe closes).
        return ProcessHandle.IsAlive(s.Pid, s.PidStartTime) ? ContainerStatus.Running : ContainerStatus.Exited;
    }

    // Created and never spawned: nothing can have crashed (a run killed before its first step, or about to start).
    private static bool IsUntouched(ContainerState s) => s.Status == ContainerStatus.Created && s.Pid == 0;

    /// <summary>Every container with its real status; crashed ones are recorded as exited on the way (`ps`) and their
    /// hooks undone (a Lifecycle without hooks leaves <see cref="ContainerState.CleanupPending"/> set for rm and prune).</summary>
    public IReadOnlyList<Observed> List() => store.List().Select(Observe).ToList();

    public Observed Observe(ContainerStore.Entry entry)
    {
        var status = StatusOf(entry);
        if (status != ContainerStatus.Exited || entry.State.Status == ContainerStatus.Exited) return new(entry, status);
        try
        {
            using var claim = store.TryClaim(entry.Config.Id);
            if (claim is null) return new(entry, status); // taken over this instant: its new owner records
            var state = RecordCrash(entry.Config.Id);
            // Its address, veth and published ports go as soon as the end is seen, not at `rm`: another container
            // may want the port now.
            if (state.CleanupPending && state.Status == ContainerStatus.Exited && hooks.Count > 0) Undo(entry.Config);
            return new(entry with { State = state }, StatusOf(entry with { State = state }));
        }
        catch (ContainerException) { return new(entry, status); } // removed meanwhile
    }

    public Observed Find(string reference) => Observe(store.Find(reference));

    /// <summary>Whether the container's program may still produce output: somebody owns it (running, starting,
    /// between restarts, or recording its end) or its process, orphaned, still runs.</summary>
    public bool IsActive(string id) =>
        store.IsOwned(id) || (store.LoadState(id) is { } s && ProcessHandle.IsAlive(s.Pid, s.PidStartTime));

    public static string Describe(ContainerState s, ContainerStatus status, DateTimeOffset now) => status switch
    {
        ContainerStatus.Running => $"Up {Humanize(now - (s.StartedAt ?? now))}",
        ContainerStatus.Restarting => $"Restarting ({s.ExitCode}) {Humanize(now - (s.FinishedAt ?? now))} ago",
        ContainerStatus.Exited when s.Status != ContainerStatus.Exited => "Exited (unknown)",
        ContainerStatus.Exited => $"Exited ({s.ExitCode}) {Humanize(now - (s.FinishedAt ?? now))} ago",
        _ => "Created",
    };

    public static string Humanize(TimeSpan t) => t.TotalSeconds switch
    {
        < 1 => "Less than a second",
        < 60 => $"{(int)t.TotalSeconds} seconds",
        < 120 => "About a minute",
        < 3600 => $"{(int)t.TotalMinutes} minutes",
        < 7200 => "About an hour",
        < 172800 => $"{(int)t.TotalHours} hours",
        _ => $"{(int)t.TotalDays} days",
    };

    /// <summary>The running container's process, for exec; Docker's messages when it does not run.</summary>
    public (ContainerConfig Config, ProcessHandle Process) OpenRunning(string reference)
    {
        var (entry, status) = Find(reference);
        if (status == ContainerStatus.Restarting)
            throw new ContainerException($"container {entry.Config.Id} is restarting, wait until the container is running", 1);
        if (status == ContainerStatus.Running && ProcessHandle.Open(entry.State.Pid, entry.State.PidStartTime) is { } process)
            return (entry.Config, process);
        throw new ContainerException($"container {entry.Config.Id} is not running", 1);
    }

    /// <summary>`stop`: SIGTERM, SIGKILL after <paramref name="grace"/>, then waits until the end is recorded.
    /// Stopping a container that does not run is not an error (Docker).</summary>
    public void Stop(string reference, TimeSpan grace)
    {
        var entry = store.Find(reference);
        string id = entry.Config.Id;
        var state = RequestStop(id);
        using (var process = ProcessHandle.Open(state.Pid, state.PidStartTime))
        {
            int stopSignal = entry.Config.StopSignal is { } named ? Signals.Parse(named) : SIGTERM;
            if (process is not null && process.Signal(stopSignal) && !process.WaitExit(grace))
            {
                process.Signal(SIGKILL);
                process.WaitExit(TimeSpan.FromSeconds(10));
            }
        }
        using var claim = ClaimStopping(id, SIGKILL);
        if (Settle(id, killOrphan: true).CleanupPending) Undo(entry.Config);
    }

    /// <summary>`kill -s SIG`. Like Docker, the restart policy no longer applies after a kill.</summary>
    public void Kill(string reference, int signal)
    {
        var (entry, status) = Find(reference);
        string id = entry.Config.Id;
        if (status != ContainerStatus.Running)
            throw new ContainerException($"cannot kill container: {reference}: container {id} is not running", 1);
        var state = RequestStop(id);
        using var process = ProcessHandle.Open(state.Pid, state.PidStartTime);
        if (process is null || !process.Signal(signal))
            throw new ContainerException($"cannot kill container: {reference}: container {id} is not running", 1);
    }

    /// <summary>`rm [-f]`: a running (or starting) container is refused without force; with force it is killed. Once
    /// nobody owns it, the hooks' undo runs (idempotent) and the directory goes.</summary>
    public void Remove(string reference, bool force)
    {
        var entry = store.Find(reference);
        string id = entry.Config.Id;
        IDisposable? claim = store.TryClaim(id);
        if (claim is null && !force) throw Running(entry.Config);
        claim ??= ClaimStopping(id, SIGKILL);
        using (claim)
        {
            FailPoint.Check("rm.claimed");
            var state = store.LoadState(id) ?? new ContainerState();
            if (!force && ProcessHandle.IsAlive(state.Pid, state.PidStartTime))
                throw Running(entry.Config);
            RemoveClaimed(entry.Config);
        }
    }

    private static ContainerException Running(ContainerConfig c) =>
        new($"cannot remove container \"{c.Name}\": container is running: stop the container before removing or force remove", 1);

    // The caller holds the claim. The hooks' undo runs whatever the state says: it is idempotent, and what a crash
    // left behind is exactly what a state written before the crash may not know about.
    private long RemoveClaimed(ContainerConfig config)
    {
        Settle(config.Id, killOrphan: true);
        Undo(config);
        FailPoint.Check("rm.hooks-undone");
        long size = ContainerStore.SizeOf(store.DirectoryOf(config.Id));
        store.Delete(config.Id);
        return size;
    }

    /// <summary>`wait`: blocks until the container has stopped for good (a restart policy's restarts included) and
    /// returns its exit code.</summary>
    public int Wait(string reference)
    {
        var entry = store.Find(reference);
        string id = entry.Config.Id;
        store.WaitUntilUnowned(id);
        var state = store.LoadState(id) ?? entry.State;
        using (var orphan = ProcessHandle.Open(state.Pid, state.PidStartTime))
            orphan?.WaitExit(Timeout.InfiniteTimeSpan);
        // An end nobody recorded (the owner was killed) is recorded now, as ps would.
        var final = store.LoadState(id) is { } last ? Observe(entry with { State = last }).Entry.State : state;
        return final.ExitCode;
    }

    public void Rename(string reference, string newName) => store.Rename(store.Find(reference).Config.Id, newName);

    /// <summary>`start`: runs a created or stopped container again on its same layer, detached through a monitor
    /// like `run -d`. Starting a running container is not an error (Docker).</summary>
    public void Start(string reference)
    {
        if (PrepareStart(reference) is { } config) ContainerMonitor.StartDetached(store.Root, config);
    }

    /// <summary>`start -a`: in the foreground like `run`; returns the program's exit status.</summary>
    public int StartAttached(string reference)
    {
        var config = PrepareStart(reference)
            ?? throw new ContainerException($"container {reference} is already running: use exec or logs -f", 1);
        return Foreground.Run(new Launcher(store, hooks), config);
    }

    /// <summary>`restart`: stop (with the grace period) then start.</summary>
    public void Restart(string reference, TimeSpan grace)
    {
        Stop(reference, grace);
        Start(reference);
    }

    private ContainerConfig? PrepareStart(string reference)
    {
        var (entry, status) = Find(reference);
        if (status is ContainerStatus.Running or ContainerStatus.Restarting) return null;
        string id = entry.Config.Id;
        using var claim = store.Claim(id, TimeSpan.FromSeconds(2));
        // Unowned and not running (checked above), so nothing to kill: a crash to record and undo at most.
        if (Settle(id, killOrphan: false).CleanupPending) Undo(entry.Config);
        store.UpdateState(id, s =>
        {
            s.StopRequested = false;
            s.RestartCount = 0;
            s.Error = null;
        });
        FailPoint.Check("start.prepared");
        return store.LoadConfig(id) ?? entry.Config;
    }

    public sealed record PruneResult(IReadOnlyList<string> Removed, long ReclaimedBytes);

    /// <summary>`system prune`: removes every container that nobody runs (undoing the hooks of crashed ones) and the
    /// half-made directories of runs killed while creating.</summary>
    public PruneResult Prune()
    {
        var removed = new List<string>();
        long bytes = 0;
        foreach (var entry in store.List())
        {
            IDisposable? claim;
            try { claim = store.TryClaim(entry.Config.Id); }
            catch (ContainerException) { continue; } // removed meanwhile
            if (claim is null) continue;              // owned: running, starting or restarting
            using (claim)
            {
                var state = store.LoadState(entry.Config.Id) ?? entry.State;
                if (ProcessHandle.IsAlive(state.Pid, state.PidStartTime)) continue;
                bytes += RemoveClaimed(entry.Config);
                removed.Add(entry.Config.Id);
            }
        }
        bytes += store.RemoveOrphans();
        return new PruneResult(removed, bytes);
    }

    /// <summary>Sets <see cref="ContainerState.StopRequested"/> under the store lock and returns the state, so the
    /// pid read here is the one a concurrent start recorded or will see the request (see Launcher).</summary>
    private ContainerState RequestStop(string id) => store.UpdateState(id, s => s.StopRequested = true);

    /// <summary>Waits for the owner to let go, signalling whatever process a start still in progress spawns.</summary>
    private IDisposable ClaimStopping(string id, int signal)
    {
        var deadline = DateTime.UtcNow + OwnerPatience;
        int signalled = 0;
        while (true)
        {
            if (store.TryClaim(id) is { } claim) return claim;
            var state = RequestStop(id);
            if (state.Pid != 0 && state.Pid != signalled)
            {
                using var process = ProcessHandle.Open(state.Pid, state.PidStartTime);
                process?.Signal(signal);
                signalled = state.Pid;
            }
            if (DateTime.UtcNow >= deadline)
                throw new ContainerException($"container {id[..12]} did not stop: its monitor does not let go of it");
            Thread.Sleep(10);
        }
    }

    /// <summary>With the claim held (nobody else looks after the container): an orphan that still runs is killed if
    /// asked, and an end nobody recorded is recorded.</summary>
    private ContainerState Settle(string id, bool killOrphan)
    {
        var state = store.LoadState(id) ?? new ContainerState();
        using (var orphan = ProcessHandle.Open(state.Pid, state.PidStartTime))
        {
            if (orphan is not null && killOrphan)
            {
                orphan.Signal(SIGKILL);
                orphan.WaitExit(TimeSpan.FromSeconds(10));
            }
        }
        return RecordCrash(id);
    }

    /// <summary>The hooks' Stopped with Pid 0 (the process is gone): veth, rules and address of a container that
    /// ended without its owner undoing them.</summary>
    private void Undo(ContainerConfig config)
    {
        Launcher.RunStoppedHooks(hooks, new ContainerContext(config, store.DirectoryOf(config.Id), 0));
        Launcher.RemoveCgroup(_cgroups, config);
        store.UpdateState(config.Id, s => s.CleanupPending = false);
    }

    // The caller holds the claim, so no owner exists; only a container whose process is gone is recorded.
    private ContainerState RecordCrash(string id) => store.UpdateState(id, s =>
    {
        if (s.Status == ContainerStatus.Exited || IsUntouched(s)) return;
        if (ProcessHandle.IsAlive(s.Pid, s.PidStartTime)) return;
        s.Status = ContainerStatus.Exited;
        s.ExitCode = CrashedExitCode;
        s.Error = CrashedError;
        s.Pid = 0;
        s.PidStartTime = 0;
        s.FinishedAt = DateTimeOffset.UtcNow;
    });
}
