namespace MiniDocker.Linux;

/// <summary>
/// Fault injection for the leak, reliability and security tests, through one variable: MINIDOCKER_FAILPOINT=NAME makes
/// the step NAME fail as if the kernel or a tool had refused it, so a test can prove the failure is reported and earlier
/// steps undone; MINIDOCKER_FAILPOINT=crash:NAME kills the process there with SIGKILL, as `kill -9` would, so a test can
/// prove that the next command or a sweep finishes what was left; MINIDOCKER_FAILPOINT=crash:write#N kills the process
/// in the middle of its Nth <see cref="AtomicFile.Write"/> (half the temp file written), a power cut at that write.
/// The variable is inherited by the monitor, so a detached run's steps crash there. Costs one environment lookup per step.
/// </summary>
public static class FailPoint
{
    public const string Variable = "MINIDOCKER_FAILPOINT";
    public const string CrashPrefix = "crash:";
    public const string WritePrefix = "crash:write#";

    /// <summary>Every step a test can crash at, with the verb that passes it (the steps of `run` after the state is
    /// created are the launcher's and the network's, so `start` passes them too). The reliability suite kills
    /// minidocker at each; a step added in the code is added here (the suite checks the two agree).</summary>
    public static readonly IReadOnlyList<(string Verb, string Step)> CrashSteps =
    [
        ("run", "run.state-created"),
        ("run", "run.cgroup-made"),
        ("run", "run.init-spawned"),
        ("run", "ipam"),
        ("run", "veth"),
        ("run", "container-link"),
        ("run", "route"),
        ("run", "run.network-attached"),
        ("run", "ports"),
        ("run", "run.ports-published"),
        ("run", "run.started"),
        ("start", "start.prepared"),
        ("rm", "rm.claimed"),
        ("rm", "rm.hooks-undone"),
        ("network create", "network-create.recorded"),
        ("network create", "bridge"),
        ("network create", "network-firewall"),
        ("network create", "network-create.done"),
        ("network rm", "rm-marked"),
        ("network rm", "rm-rules"),
        ("network rm", "rm-bridge"),
        ("network rm", "rm-ipam"),
        ("network rm", "rm-record"),
        ("image import", "image-import.extracted"),
        ("image import", "image-import.placed"),
        ("pull", "pull.manifest-fetched"),
        ("pull", "pull.blob-partial"),
        ("pull", "pull.blob-downloaded"),
        ("pull", "pull.layer-extracted"),
        ("pull", "pull.layer-placed"),
        ("pull", "pull.image-recorded"),
    ];

    private static int _writes;

    /// <summary>Whether the test asked the step <paramref name="step"/> to fail; kills the process here if it asked
    /// for a crash at it.</summary>
    public static bool Injected(string step)
    {
        string? point = Environment.GetEnvironmentVariable(Variable);
        if (point is null) return false;
        if (point.StartsWith(CrashPrefix, StringComparison.Ordinal) && point.AsSpan(CrashPrefix.Length).SequenceEqual(step))
            Crash();
        return point == step;
    }

    /// <summary>A named step: fails with the injected error or crashes, as the test asked.</summary>
    public static void Check(string step)
    {
        if (Injected(step)) throw new MiniDockerException($"injected failure at step '{step}'");
    }

    /// <summary>Called by <see cref="AtomicFile.Write"/> between the two halves of the temp file's content.</summary>
    internal static void AtWrite()
    {
        string? point = Environment.GetEnvironmentVariable(Variable);
        if (point is null || !point.StartsWith(WritePrefix, StringComparison.Ordinal)) return;
        if (int.TryParse(point.AsSpan(WritePrefix.Length), out int n) && Interlocked.Increment(ref _writes) == n) Crash();
    }

    private static void Crash()
    {
        // Nothing runs after this: no finally, no undo, no flush, exactly as after kill -9.
        Libc.kill(Libc.getpid(), Libc.SIGKILL);
        Thread.Sleep(Timeout.Infinite);
    }
}

/// <summary>The fail points' first name, kept so code written against it still builds; see <see cref="FailPoint"/>.</summary>
public static class KernelFailPoint
{
    public static bool Injected(string step) => FailPoint.Injected(step);
}
