namespace MiniDocker.Network;

/// <summary>
/// Fault injection for the leak tests: MINIDOCKER_FAILPOINT=NAME makes the step NAME fail as if the kernel or a tool
/// had refused it, so a test can prove that every earlier step is undone; MINIDOCKER_FAILPOINT=crash:NAME kills the
/// process there with SIGKILL, as `kill -9` would, so a test can prove that a sweep finishes what was left. Costs one
/// environment lookup per step.
/// </summary>
public static class FailPoint
{
    public const string CrashPrefix = "crash:";

    public static void Check(string step)
    {
        string? point = Environment.GetEnvironmentVariable("MINIDOCKER_FAILPOINT");
        if (point is null) return;
        if (point == step)
            throw new NetworkException($"injected failure at step '{step}'");
        if (point.StartsWith(CrashPrefix, StringComparison.Ordinal) && point.AsSpan(CrashPrefix.Length).SequenceEqual(step))
        {
            // Nothing runs after this: no finally, no undo, no flush, exactly as after kill -9.
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            self.Kill();
            Thread.Sleep(Timeout.Infinite);
        }
    }
}
