namespace MiniDocker.Network;

/// <summary>The network's steps of <see cref="Linux.FailPoint"/> (crash:NAME kills there), failing with the network's
/// own exception.</summary>
internal static class FailPoint
{
    public static void Check(string step)
    {
        if (Linux.FailPoint.Injected(step)) throw new NetworkException($"injected failure at step '{step}'");
    }
}
