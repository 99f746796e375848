using System.Net;
using MiniDocker.Linux;
using MiniDocker.Netlink;

namespace MiniDocker.Network;

/// <summary>
/// macvlan and ipvlan networks: each container's interface is a child link of a host interface (the parent) on a
/// LAN, so the container appears on that LAN with an address of the LAN's subnet. There is no bridge, no veth, no
/// NAT, no published port and no rule on the host: the LAN's router is the gateway. The host makes nothing at
/// `network create` (it checks the parent), and the child is created directly in the container's namespace.
/// </summary>
internal sealed class LowerLinkDriver(string kind) : INetworkDriver
{
    public string Name => kind;

    public bool HasHostBridge => false;

    public void CreateNetwork(NetworkRecord network, string tag, Action? created = null) => CheckParent(network);

    // Nothing of the network lives on the host: a parent gone since is reported when a container attaches.
    public void EnsureNetwork(NetworkRecord network, string tag) { }

    public void DeleteNetwork(NetworkRecord network, string tag) { }

    /// <summary>
    /// The parent must be an interface that can carry children: not loopback, not one of our bridges (whose LAN is
    /// our own, behind NAT), not a port of a bridge (the kernel gives a device one receive handler, which the bridge
    /// holds: it would refuse with EBUSY at the first container).
    /// </summary>
    public static LinkInfo CheckParent(NetworkRecord network)
    {
        string parent = LowerLinkOptions.Parse(network.Driver, network.Options).Parent;
        using var nl = RtNetlink.Open();
        var link = nl.GetLink(parent)
            ?? throw new NetworkException($"parent interface {parent} of network {network.Name} does not exist");
        // The loopback device is always index 1 in its namespace (LOOPBACK_IFINDEX).
        if (link.Index == 1 || link.Name == "lo")
            throw new NetworkException($"parent interface {parent} is the loopback device: name the interface on the LAN");
        if (link.Alias is { } alias && alias.StartsWith(HostTags.NetworkPrefix, StringComparison.Ordinal))
            throw new NetworkException($"parent interface {parent} is a bridge of minidocker's ({alias}): name the interface on the LAN");
        if (link.Kind == "bridge")
            throw new NetworkException($"parent interface {parent} is a bridge: name the interface on the LAN (or use --driver bridge)");
        if (link.MasterIndex != 0)
        {
            string master = nl.ListLinks().FirstOrDefault(l => l.Index == link.MasterIndex)?.Name ?? $"index {link.MasterIndex}";
            throw new NetworkException($"parent interface {parent} is a port of {master}: a bridge port cannot also carry {network.Driver} links");
        }
        return link;
    }

    public void Attach(NetworkRecord network, EndpointRecord endpoint, string netnsPath, bool hairpin, bool defaultRoute)
    {
        var options = LowerLinkOptions.Parse(network.Driver, network.Options);
        int mtu = network.Mtu;
        using (var nl = RtNetlink.Open())
        {
            if (nl.GetLink(options.Parent) is null)
                throw new NetworkException($"parent interface {options.Parent} of network {network.Name} does not exist");
            FailPoint.Check("container-link");
            using var ns = NetNs.Open(netnsPath);
            try
            {
                if (kind == LowerLinkOptions.Macvlan)
                    nl.CreateMacvlanInto(endpoint.ContainerIfName, options.Parent, ns, options.MacvlanMode, ParseMac(endpoint.MAC), mtu);
                else
                    nl.CreateIpvlanInto(endpoint.ContainerIfName, options.Parent, ns, options.IpvlanMode, mtu);
            }
            catch (NetlinkException e) when (e.Errno == (int)Errno.EOPNOTSUPP)
            {
                throw new NetworkException($"this kernel has no {kind} driver (CONFIG_{kind.ToUpperInvariant()}): network {network.Name} cannot be used here");
            }
            catch (NetlinkException e) when (e.Errno == (int)Errno.EBUSY)
            {
                throw new NetworkException($"parent interface {options.Parent} cannot carry a {kind} link now (it is a bridge port, " +
                    $"or carries {(kind == LowerLinkOptions.Macvlan ? "ipvlan" : "macvlan")} links): {e.Message}");
            }
        }
        try
        {
            RtNetlink.InNamespace(netnsPath, inside =>
            {
                inside.AddAddress(endpoint.ContainerIfName, endpoint.IP, network.Subnet.Prefix);
                inside.SetUp("lo");
                inside.SetUp(endpoint.ContainerIfName);
                FailPoint.Check("route");
                if (!defaultRoute) return;
                // ipvlan L3 has no ARP and no L2 neighbour: everything leaves by the device (as Docker routes it).
                if (kind == LowerLinkOptions.Ipvlan && options.IpvlanMode != IpvlanMode.L2)
                    inside.AddRoute(IPAddress.Any, 0, null, endpoint.ContainerIfName);
                else
                    inside.AddRoute(IPAddress.Any, 0, network.Gateway, endpoint.ContainerIfName);
            });
        }
        catch
        {
            Detach(network, endpoint, netnsPath);
            throw;
        }
    }

    /// <summary>The child lives only in the container's namespace: without one to enter (the container is gone, or
    /// its namespace is being destroyed, which deletes the child) there is nothing to do.</summary>
    public void Detach(NetworkRecord? network, EndpointRecord endpoint, string? netnsPath)
    {
        if (netnsPath is null) return;
        try
        {
            RtNetlink.InNamespace(netnsPath, inside =>
            {
                // Only our kind of link under that name: the container may have made something of its own since.
                if (inside.GetLink(endpoint.ContainerIfName) is not { Kind: var k } || k != kind) return;
                try { inside.DeleteLink(endpoint.ContainerIfName); }
                catch (NetlinkException e) when (e.Errno == (int)Errno.ENODEV) { /* the parent went, and its children with it */ }
            });
        }
        catch (NetlinkException e) when (e.Errno == (int)Errno.ENOENT) { /* the namespace is gone: so is the link */ }
    }

    private static byte[] ParseMac(string mac) => mac.Split(':').Select(h => Convert.ToByte(h, 16)).ToArray();
}
