using static MiniDocker.Runtime.Native.Libc;

namespace MiniDocker.Runtime;

/// <summary>Verbs on existing containers: what is really running, and removal.</summary>
public sealed class Lifecycle(ContainerStore store, IReadOnlyList<IContainerHook> hooks)
{
    public static bool IsAlive(int pid) => pid > 0 && (kill(pid, 0) == 0 || Errno == 1 /* EPERM: exists */);

    /// <summary>The status as it really is: a container recorded as running whose process is gone (host reboot,
    /// kill -9 of its monitor) is reported as exited, not "Up" forever.</summary>
    public static ContainerStatus EffectiveStatus(ContainerState s) =>
        s.Status == ContainerStatus.Running && !IsAlive(s.Pid) ? ContainerStatus.Exited : s.Status;

    public static string Describe(ContainerState s, DateTimeOffset now) => EffectiveStatus(s) switch
    {
        ContainerStatus.Running => $"Up {Humanize(now - (s.StartedAt ?? now))}",
        ContainerStatus.Exited when s.Status == ContainerStatus.Running => "Exited (unknown)",
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

    /// <summary>`rm [-f]`: a running container is refused without force; with force it is killed, and once its
    /// process is gone the hooks' undo runs (idempotent, so a monitor doing the same is harmless).</summary>
    public void Remove(string reference, bool force)
    {
        var entry = store.Find(reference);
        var state = entry.State;
        if (EffectiveStatus(state) == ContainerStatus.Running)
        {
            if (!force)
                throw new ContainerException($"cannot remove container \"{entry.Config.Name}\": container is running: stop the container before removing or force remove");
            kill(state.Pid, SIGKILL);
            WaitGone(state.Pid, TimeSpan.FromSeconds(10));
            // The monitor records the exit and cleans up; give it the moment it needs so we don't race its writes.
            WaitGone(state.MonitorPid, TimeSpan.FromSeconds(5));
        }
        var context = new ContainerContext(entry.Config, store.DirectoryOf(entry.Config.Id), 0);
        for (int i = hooks.Count - 1; i >= 0; i--) hooks[i].Stopped(context);
        store.Delete(entry.Config.Id);
    }

    private static void WaitGone(int pid, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (IsAlive(pid) && !IsZombieOfOther(pid) && DateTime.UtcNow < deadline) Thread.Sleep(10);
    }

    // A killed process that its parent has not reaped yet still answers kill(pid, 0).
    private static bool IsZombieOfOther(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('Z'); }
        catch (IOException) { return false; }
    }
}
