namespace MiniDocker.Linux;

/// <summary>
/// Fault injection for the leak and security tests: MINIDOCKER_FAILPOINT=NAME makes the step NAME fail as if the kernel
/// had refused it, so a test can prove the failure is reported and earlier steps undone.
/// Costs one environment lookup per step.
/// </summary>
public static class KernelFailPoint
{
    /// <summary>Whether the test asked the step <paramref name="step"/> to fail.</summary>
    public static bool Injected(string step) => Environment.GetEnvironmentVariable("MINIDOCKER_FAILPOINT") == step;
}
