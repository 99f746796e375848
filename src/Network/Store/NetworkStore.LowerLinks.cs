using System.Net;
using MiniDocker.Linux;

namespace MiniDocker.Network;

public sealed partial class NetworkStore
{
    /// <summary>
    /// A macvlan or ipvlan network: validated like a bridge network (name, subnet, gateway, ip-range, labels; no
    /// overlap with any other network of this root), but with no bridge, and without the host-route check: the LAN's
    /// subnet is usually routed on the parent itself, which is the point.
    /// </summary>
    private NetworkRecord CreateLowerLinkNetwork(string name, string subnet, string? gateway, string driver,
        IReadOnlyDictionary<string, string>? options, NetworkSpec? spec)
    {
        if (!LowerLinkOptions.IsDriver(driver))
            throw new NetworkException($"unknown network driver '{driver}': use {BridgeDriver}, {LowerLinkOptions.Macvlan} or {LowerLinkOptions.Ipvlan}");
        options ??= new Dictionary<string, string>();
        spec ??= new NetworkSpec();
        var parsed = LowerLinkOptions.Parse(driver, options);
        if (spec.Internal)
            throw new NetworkException($"--internal is not supported with driver {driver}: its containers are on the parent's LAN");
        if (spec.EnableIPv6 || spec.Subnet6 is not null)
            throw new NetworkException($"--ipv6 is not supported with driver {driver} yet: IPv6 is built for bridge networks only");
        Subnet parsedSubnet = ParseNetworkSubnet(subnet);
        IPAddress parsedGateway = ParseGateway(gateway, parsedSubnet);
        Subnet? ipRange = NetworkOptions.ParseIpRange(spec.IpRange, parsedSubnet);
        NetworkOptions.ValidateLabels(spec.Labels);

        using FileLock _ = LockStore();
        // The kernel gives a device one kind of children: a macvlan port or an ipvlan port, never both (EBUSY).
        foreach (var other in ReadNetworks().Where(n => LowerLinkOptions.IsDriver(n.Driver) && n.Driver != driver))
        {
            if (LowerLinkOptions.Parse(other.Driver, other.Options).Parent == parsed.Parent)
                throw new NetworkException($"parent interface {parsed.Parent} already carries {other.Driver} network {other.Name}: " +
                    $"the kernel does not let {LowerLinkOptions.Macvlan} and {LowerLinkOptions.Ipvlan} share a parent");
        }
        return CreateLocked(name, parsedSubnet, parsedGateway, requestedBridge: null, hostRoutes: [],
            new Dictionary<string, string>(options),
            r => r with
            {
                Driver = driver,
                Bridge = "",
                IpRange = ipRange,
                Labels = spec.Labels is { Count: > 0 } l ? l : null,
                Mtu = parsed.Mtu,
            });
    }
}
