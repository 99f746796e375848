using System.Diagnostics;
using MiniDocker.Runtime.Native;

namespace MiniDocker.Runtime.Tests;

/// <summary>A state root of its own under /tmp, removed afterwards.</summary>
public sealed class TempStore : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "mdk-ut-" + Guid.NewGuid().ToString("N")[..10]);
    public ContainerStore Store { get; }
    public TempStore() => Store = new ContainerStore(Root);

    public ContainerConfig Add(string name, ContainerState state)
    {
        var config = new ContainerConfig { Id = ContainerStore.NewId(), Name = name, Image = "busybox", Args = ["sleep", "1"], Created = DateTimeOffset.UtcNow };
        Store.Create(config);
        Store.SaveState(config.Id, state);
        return config;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class RecordingHook : IContainerHook
{
    public List<(string Id, int Pid)> Stopped { get; } = new();
    public void Created(ContainerContext context) { }
    void IContainerHook.Stopped(ContainerContext context) => Stopped.Add((context.Config.Id, context.Pid));
}

public sealed class ContainerStoreTests : IDisposable
{
    private readonly TempStore _t = new();
    public void Dispose() => _t.Dispose();

    [Fact]
    public void One_owner_at_a_time_and_the_lock_goes_with_its_holder()
    {
        var c = _t.Add("owned", new ContainerState());
        Assert.False(_t.Store.IsOwned(c.Id));
        using (var claim = _t.Store.TryClaim(c.Id))
        {
            Assert.NotNull(claim);
            Assert.True(_t.Store.IsOwned(c.Id));
            Assert.Null(_t.Store.TryClaim(c.Id));
            var busy = Assert.Throws<ContainerException>(() => _t.Store.Claim(c.Id, TimeSpan.FromMilliseconds(50)));
            Assert.Contains("is busy", busy.Message);
        }
        Assert.False(_t.Store.IsOwned(c.Id));
        _t.Store.TryClaim(c.Id)!.Dispose();
    }

    [Fact]
    public void An_empty_state_file_left_by_a_power_cut_reads_as_exited_and_a_garbled_one_is_refused()
    {
        // state.json's data is not fsynced (SaveState): a power cut after the rename leaves the name with no data.
        var c = _t.Add("powercut", new ContainerState { Status = ContainerStatus.Running, Pid = 4242 });
        string path = Path.Combine(_t.Store.DirectoryOf(c.Id), "state.json");
        File.WriteAllBytes(path, []);
        var lost = _t.Store.LoadState(c.Id)!;
        Assert.Equal(ContainerStatus.Exited, lost.Status);
        Assert.Equal(0, lost.Pid);
        Assert.Contains("lost in a system crash", lost.Error);
        Assert.Equal(ContainerStatus.Exited, _t.Store.List().Single(e => e.Config.Id == c.Id).State.Status);

        File.WriteAllText(path, "{\"Status\": ");
        var corrupt = Assert.Throws<ContainerException>(() => _t.Store.LoadState(c.Id));
        Assert.Contains("is corrupt", corrupt.Message);
    }

    [Fact]
    public void A_claim_on_a_removed_container_fails_even_if_the_lock_file_was_opened_before()
    {
        var c = _t.Add("gone", new ContainerState());
        var remover = _t.Store.TryClaim(c.Id)!;
        var waiter = Task.Run(() => _t.Store.Claim(c.Id, TimeSpan.FromSeconds(10)));
        _t.Store.Delete(c.Id);
        remover.Dispose();
        var e = Assert.Throws<NoSuchContainerException>(() => waiter.GetAwaiter().GetResult());
        Assert.Contains("no such container", e.Message);
        Assert.Empty(Directory.GetDirectories(_t.Store.ContainersDir));
    }

    [Fact]
    public void Rename_keeps_names_unique_and_valid()
    {
        var a = _t.Add("a", new ContainerState());
        _t.Add("b", new ContainerState());
        _t.Store.Rename(a.Id, "c");
        Assert.Equal(a.Id, _t.Store.Find("c").Config.Id);
        Assert.Contains("already in use", Assert.Throws<ContainerException>(() => _t.Store.Rename(a.Id, "b")).Message);
        Assert.Contains("same name", Assert.Throws<ContainerException>(() => _t.Store.Rename(a.Id, "c")).Message);
        Assert.Contains("invalid container name", Assert.Throws<ContainerException>(() => _t.Store.Rename(a.Id, "-x")).Message);
    }

    [Fact]
    public void Half_made_and_half_removed_directories_are_orphans_and_are_not_listed()
    {
        var kept = _t.Add("kept", new ContainerState());
        string half = Path.Combine(_t.Store.ContainersDir, new string('a', 64));
        Directory.CreateDirectory(Path.Combine(half, "upper"));
        File.WriteAllText(Path.Combine(half, "upper", "data"), "12345");
        string trash = Path.Combine(_t.Root, "trash", new string('b', 64) + ".1.1");
        Directory.CreateDirectory(trash);
        File.WriteAllText(Path.Combine(trash, "config.json"), "{}");

        Assert.Equal([kept.Id], _t.Store.List().Select(e => e.Config.Id));
        Assert.Equal([half, trash], _t.Store.Orphans().Order());
        Assert.True(_t.Store.RemoveOrphans() >= 5);
        Assert.Empty(_t.Store.Orphans());
        Assert.Equal([_t.Store.DirectoryOf(kept.Id)], Directory.GetDirectories(_t.Store.ContainersDir));
    }

    [Fact]
    public void A_rm_containers_empty_config_after_a_power_cut_is_an_orphan_not_a_corrupt_store()
    {
        // --rm skips config.json's data fsync: a power cut after the rename can leave the name with no data.
        var gone = _t.Add("gone", new ContainerState());
        var kept = _t.Add("kept", new ContainerState());
        File.WriteAllBytes(Path.Combine(_t.Store.DirectoryOf(gone.Id), "config.json"), []);
        Assert.Equal([kept.Id], _t.Store.List().Select(e => e.Config.Id));
        Assert.Equal([_t.Store.DirectoryOf(gone.Id)], _t.Store.Orphans());
        _t.Store.RemoveOrphans();
        Assert.Equal([_t.Store.DirectoryOf(kept.Id)], Directory.GetDirectories(_t.Store.ContainersDir));
    }
}

public sealed class LifecycleRecoveryTests : IDisposable
{
    private readonly TempStore _t = new();
    private readonly RecordingHook _hook = new();
    private readonly Lifecycle _lifecycle;
    public LifecycleRecoveryTests() => _lifecycle = new Lifecycle(_t.Store, [_hook]);
    public void Dispose() => _t.Dispose();

    /// <summary>A pid that no longer runs: a process we started and reaped.</summary>
    private static (int Pid, ulong Start) DeadProcess()
    {
        using var p = Process.Start("sleep", "0.2")!;
        ulong start = ProcStat.StartTimeOf(p.Id);
        p.WaitForExit();
        return (p.Id, start);
    }

    private static ContainerState RunningAs(int pid, ulong start) => new()
    {
        Status = ContainerStatus.Running, Pid = pid, PidStartTime = start, MonitorPid = 0, CleanupPending = true,
        StartedAt = DateTimeOffset.UtcNow,
    };

    [Fact]
    public void A_container_whose_owner_died_between_start_and_recording_running_is_running_and_rm_f_kills_its_process()
    {
        // The owner (a foreground run) was killed after "start" and before it wrote Running: state.json says Created
        // with the pid of a program that runs. Recording that as a crash once dropped the pid, so rm -f could not
        // kill the program and it ran on in its own pid namespace with nothing tracking it.
        using var program = Process.Start("sleep", "600")!;
        var c = _t.Add("racing", new ContainerState
        {
            Status = ContainerStatus.Created, Pid = program.Id, PidStartTime = ProcStat.StartTimeOf(program.Id), CleanupPending = true,
        });
        Assert.Equal(ContainerStatus.Running, _lifecycle.List().Single().Status);
        Assert.Equal(program.Id, _t.Store.LoadState(c.Id)!.Pid);
        Assert.Throws<ContainerException>(() => _lifecycle.Remove(c.Id, force: false));

        _lifecycle.Remove(c.Id, force: true);
        Assert.True(program.WaitForExit(10_000), "rm -f left the program running");
        Assert.Empty(_t.Store.List());
    }

    [Fact]
    public void A_container_whose_owner_and_process_are_gone_is_exited_and_ps_records_it_and_undoes_its_hooks()
    {
        var (pid, start) = DeadProcess();
        var c = _t.Add("crashed", RunningAs(pid, start));
        var observed = _lifecycle.List().Single();
        Assert.Equal(ContainerStatus.Exited, observed.Status);
        Assert.Equal(Lifecycle.CrashedExitCode, observed.Entry.State.ExitCode);
        Assert.StartsWith("Exited (255) ", Lifecycle.Describe(observed.Entry.State, observed.Status, DateTimeOffset.UtcNow));
        var saved = _t.Store.LoadState(c.Id)!;
        Assert.Equal(ContainerStatus.Exited, saved.Status);
        // Its address, veth and published ports are released when the crash is seen, not at rm.
        Assert.False(saved.CleanupPending);
        Assert.Equal([(c.Id, 0)], _hook.Stopped);
    }

    [Fact]
    public void A_reused_pid_is_not_the_container()
    {
        var c = _t.Add("reused", RunningAs(Environment.ProcessId, ProcStat.StartTimeOf(Environment.ProcessId) + 1));
        Assert.Equal(ContainerStatus.Exited, _lifecycle.StatusOf(_t.Store.Find(c.Id)));
        Assert.Null(ProcessHandle.Open(Environment.ProcessId, ProcStat.StartTimeOf(Environment.ProcessId) + 1));
        using var self = ProcessHandle.Open(Environment.ProcessId, ProcStat.StartTimeOf(Environment.ProcessId));
        Assert.NotNull(self);
    }

    [Fact]
    public void An_owned_container_reports_what_its_owner_recorded()
    {
        var (pid, start) = DeadProcess();
        var c = _t.Add("exiting", RunningAs(pid, start));
        using var owner = _t.Store.TryClaim(c.Id);
        // The process is gone but its owner is about to record the exit: still running until it has.
        Assert.Equal(ContainerStatus.Running, _lifecycle.List().Single().Status);
        Assert.Equal(ContainerStatus.Running, _t.Store.LoadState(c.Id)!.Status);
    }

    [Fact]
    public void Prune_undoes_the_hooks_of_a_crashed_container_and_removes_it()
    {
        var (pid, start) = DeadProcess();
        var crashed = _t.Add("crashed", RunningAs(pid, start));
        var never = _t.Add("never", new ContainerState { Status = ContainerStatus.Created });
        var result = _lifecycle.Prune();
        Assert.Equal(new[] { crashed.Id, never.Id }.Order(), result.Removed.Order());
        Assert.Contains((crashed.Id, 0), _hook.Stopped);
        Assert.Empty(_t.Store.List());
    }

    [Fact]
    public void An_orphan_that_still_runs_is_running_refused_by_rm_and_killed_by_rm_f()
    {
        using var orphan = Process.Start("sleep", "60")!;
        var c = _t.Add("orphan", RunningAs(orphan.Id, ProcStat.StartTimeOf(orphan.Id)));
        Assert.Equal(ContainerStatus.Running, _lifecycle.List().Single().Status);
        Assert.Empty(_lifecycle.Prune().Removed);
        var refused = Assert.Throws<ContainerException>(() => _lifecycle.Remove("orphan", force: false));
        Assert.Contains("container is running", refused.Message);

        _lifecycle.Remove("orphan", force: true);
        Assert.True(orphan.WaitForExit(10_000));
        Assert.Contains((c.Id, 0), _hook.Stopped);
        Assert.Empty(_t.Store.List());
    }

    [Fact]
    public void Stop_of_an_orphan_kills_it_and_records_the_end()
    {
        using var orphan = Process.Start("sleep", "60")!;
        var c = _t.Add("orphan", RunningAs(orphan.Id, ProcStat.StartTimeOf(orphan.Id)));
        _lifecycle.Stop("orphan", TimeSpan.FromSeconds(5));
        Assert.True(orphan.WaitForExit(10_000));
        var state = _t.Store.LoadState(c.Id)!;
        Assert.Equal(ContainerStatus.Exited, state.Status);
        Assert.True(state.StopRequested);
        Assert.False(state.CleanupPending);
        Assert.Contains((c.Id, 0), _hook.Stopped);
    }

    [Fact]
    public void Describe_matches_dockers_status_column()
    {
        var now = DateTimeOffset.UtcNow;
        var s = new ContainerState { StartedAt = now.AddSeconds(-5), FinishedAt = now.AddSeconds(-3), ExitCode = 3 };
        Assert.Equal("Up 5 seconds", Lifecycle.Describe(s, ContainerStatus.Running, now));
        Assert.Equal("Restarting (3) 3 seconds ago", Lifecycle.Describe(s, ContainerStatus.Restarting, now));
        s.Status = ContainerStatus.Exited;
        Assert.Equal("Exited (3) 3 seconds ago", Lifecycle.Describe(s, ContainerStatus.Exited, now));
        Assert.Equal("Created", Lifecycle.Describe(new ContainerState(), ContainerStatus.Created, now));
    }
}
