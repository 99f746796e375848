namespace MiniDocker.Network;

/// <summary>
/// Fault injection for the leak tests: MINIDOCKER_FAILPOINT=NAME makes the step NAME fail as if the kernel or a tool
/// had refused it, so a test can prove that every earlier step is undone. Costs one environment lookup per step.
/// </summary>
public static class FailPoint
{
    public static void Check(string step)
    {
        if (Environment.GetEnvironmentVariable("MINIDOCKER_FAILPOINT") == step)
            throw new NetworkException($"injected failure at step '{step}'");
    }
}
