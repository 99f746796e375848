using System.Net;

namespace MiniDocker.Network;

/// <summary>
/// One published port. <paramref name="HostIp"/> null means every local address (Docker's 0.0.0.0);
/// <paramref name="HostPort"/> 0 means "not chosen yet" until <see cref="PortAllocator"/> picks one.
/// <paramref name="Protocol"/> is "tcp" or "udp".
/// </summary>
public sealed record PortMapping(IPAddress? HostIp, int HostPort, int ContainerPort, string Protocol)
{
    /// <summary>As Docker prints it: "0.0.0.0:8080->80/tcp".</summary>
    public override string ToString() =>
        $"{HostIp?.ToString() ?? "0.0.0.0"}:{HostPort}->{ContainerPort}/{Protocol}";
}
