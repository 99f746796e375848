using System.Net;
using MiniDocker.Linux;
using MiniDocker.Netlink;

namespace MiniDocker.Network;

/// <summary>
/// The kernel side of a bridge network, over the project's own rtnetlink: the bridge with the gateway address, and
/// per container a veth pair whose host end is a bridge port and whose other end becomes the container's eth0.
/// </summary>
internal static class BridgeDriver
{
    /// <summary>
    /// Creates the bridge if it is missing (first use, or after a host reboot) with its fixed MAC and its owner tag
    /// (alias <paramref name="tag"/>), and brings it up with the gateway address. Idempotent. An existing interface of
    /// that name is used only if it carries our tag, or is an untagged bridge (made by a version before tags, or by a
    /// run killed between creating and tagging it), which is then tagged; anything else is refused, never adopted.
    /// </summary>
    /// <param name="created">called as soon as the bridge exists because this call made it: only then may the
    /// caller's undo delete it.</param>
    public static void EnsureBridge(NetworkRecord network, string tag, Action? created = null)
    {
        using var nl = RtNetlink.Open();
        var link = nl.GetLink(network.Bridge);
        if (link is null)
        {
            FailPoint.Check("bridge");
            try
            {
                nl.CreateBridge(network.Bridge, HostTags.BridgeMac(tag));
                created?.Invoke();
            }
            catch (NetlinkException e) when (e.Errno == EEXIST) { /* made meanwhile: checked below like any other */ }
            link = nl.GetLink(network.Bridge) ?? throw new NetworkException($"bridge {network.Bridge} vanished while being created");
        }
        if (link.Alias != tag)
        {
            if (!IsUntaggedBridge(link))
                throw new NetworkException($"interface {network.Bridge} exists and is not network {network.Name}'s ({Describe(link)}): " +
                    "remove it or recreate the network with another bridge-name");
            FailPoint.Check("bridge-tag");
            nl.SetAlias(network.Bridge, tag);
        }
        if (!nl.ListAddresses().Any(a => a.LinkIndex == link.Index && a.Address.Equals(network.Gateway)))
        {
            try { nl.AddAddress(network.Bridge, network.Gateway, network.Subnet.Prefix); }
            catch (NetlinkException e) when (e.Errno == EEXIST) { /* a concurrent first use added it */ }
        }
        if (network.EnableIPv6) EnsureGateway6(nl, network, link.Index);
        // -o mtu: set on the bridge explicitly (the kernel then no longer lowers it to its smallest port's).
        if (network.Mtu != 0 && link.Mtu != network.Mtu) nl.SetMtu(network.Bridge, network.Mtu);
        if (!link.IsUp) nl.SetUp(network.Bridge);
        // Outbound NAT needs forwarding; published ports on 127.0.0.1 need route_localnet on the bridge, because the
        // DNAT'ed packet keeps its loopback source on its way out of the bridge (see the firewall's MASQUERADE rule).
        // It would also let containers reach the host's 127.0.0.1 services (CVE-2020-8558): the network's firewall
        // rules, made right after this and before any container is attached, drop the bridge's traffic to 127.0.0.0/8.
        Sysctl("net/ipv4/ip_forward", "1");
        Sysctl($"net/ipv4/conf/{network.Bridge}/route_localnet", "1");
    }

    /// <summary>
    /// The IPv6 gateway on the bridge (nodad: usable at once, IPAM makes it unique) and IPv6 forwarding. Forwarding is
    /// turned on the way ip_forward is for IPv4 (and as Docker does with ip6tables): net.ipv6.conf.all.forwarding, only
    /// written when it is off, never turned off again. IPv6 has no per-interface switch that lets packets through:
    /// the kernel forwards only when "all" is on (a per-interface value only changes host/router behaviour). Turning
    /// it on makes interfaces with accept_ra=1 ignore router advertisements, as it does under Docker; `doctor` warns
    /// about such interfaces.
    /// </summary>
    private static void EnsureGateway6(RtNetlink nl, NetworkRecord network, int bridgeIndex)
    {
        var subnet = network.Subnet6!.Value;
        if (!nl.ListAddresses6().Any(a => a.LinkIndex == bridgeIndex && a.Address.Equals(network.Gateway6)))
        {
            try { nl.AddAddress6(network.Bridge, network.Gateway6!, subnet.Prefix); }
            catch (NetlinkException e) when (e.Errno == EEXIST) { /* a concurrent first use added it */ }
        }
        Sysctl("net/ipv6/conf/all/forwarding", "1");
    }

    /// <summary>
    /// Deletes the bridge if it is ours: tagged <paramref name="tag"/>, or an untagged bridge (see
    /// <see cref="EnsureBridge"/>). Someone else's interface of that name is left alone. Returns whether a bridge of
    /// ours is gone now.
    /// </summary>
    public static bool DeleteOwnedBridge(string bridge, string tag)
    {
        using var nl = RtNetlink.Open();
        var link = nl.GetLink(bridge);
        if (link is null) return true;
        if (link.Alias != tag && !IsUntaggedBridge(link)) return false;
        try { nl.DeleteLink(bridge); }
        catch (NetlinkException e) when (e.Errno == ENODEV) { /* deleted meanwhile */ }
        return true;
    }

    /// <summary>Bridges whose alias is one of our tags, with the tag: what a sweep may consider removing.</summary>
    public static IReadOnlyList<(string Name, string Tag)> TaggedBridges()
    {
        using var nl = RtNetlink.Open();
        return nl.ListLinks()
            .Where(l => l.Kind == "bridge" && l.Alias is not null && l.Alias.StartsWith(HostTags.NetworkPrefix, StringComparison.Ordinal))
            .Select(l => (l.Name, l.Alias!)).ToList();
    }

    private static bool IsUntaggedBridge(LinkInfo link) => link.Kind == "bridge" && string.IsNullOrEmpty(link.Alias);

    private static string Describe(LinkInfo link) =>
        string.Join(", ", new[] { link.Kind ?? "no kind", link.Alias is { Length: > 0 } a ? $"alias '{a}'" : null }.OfType<string>());

    private static readonly int EEXIST = MiniDocker.Linux.Libc.EEXIST;
    private static readonly int ENODEV = MiniDocker.Linux.Libc.ENODEV;

    /// <summary>
    /// One veth pair: the host end created as a port of the bridge and up, the other end created directly inside the
    /// container's namespace as eth0 with its MAC (creating it there is cheap; moving a link between namespaces costs
    /// tens of milliseconds). Inside: the address, lo and eth0 up, the default route via the gateway. On failure the
    /// pair is deleted (deleting one end deletes both, wherever the other end is).
    /// </summary>
    /// <param name="defaultRoute">the container's default route goes via this network: its first one, unless
    /// internal (which has no way out).</param>
    public static void Attach(NetworkRecord network, EndpointRecord endpoint, string netnsPath, bool hairpin, bool defaultRoute = true)
    {
        using var nl = RtNetlink.Open();
        FailPoint.Check("veth");
        using (var ns = NetNs.Open(netnsPath))
            nl.CreateVethInto(endpoint.HostVeth, network.Bridge, endpoint.ContainerIfName, ns, ParseMac(endpoint.MAC));
        try
        {
            // A container reaching its own published port through the host comes back out of the same bridge port.
            if (hairpin) nl.SetHairpin(endpoint.HostVeth, true);
            if (network.Mtu != 0) nl.SetMtu(endpoint.HostVeth, network.Mtu);
            RtNetlink.InNamespace(netnsPath, inside =>
            {
                FailPoint.Check("container-link");
                if (network.Mtu != 0) inside.SetMtu(endpoint.ContainerIfName, network.Mtu);
                inside.AddAddress(endpoint.ContainerIfName, endpoint.IP, network.Subnet.Prefix);
                if (endpoint.IPv6 is { } ipv6)
                {
                    // Addresses and routes come from us only: a router advertisement on the bridge (from another
                    // container with CAP_NET_RAW) must not add a default route or addresses. Written on this thread,
                    // which is inside the container's namespace, so /proc/sys/net is the container's.
                    Sysctl($"net/ipv6/conf/{endpoint.ContainerIfName}/accept_ra", "0");
                    inside.AddAddress6(endpoint.ContainerIfName, ipv6, network.Subnet6!.Value.Prefix);
                }
                inside.SetUp("lo");
                inside.SetUp(endpoint.ContainerIfName);
                FailPoint.Check("route");
                if (defaultRoute && !network.Internal) inside.AddRoute(IPAddress.Any, 0, network.Gateway, endpoint.ContainerIfName);
                if (defaultRoute && !network.Internal && endpoint.IPv6 is not null)
                    inside.AddRoute6(IPAddress.IPv6Any, 0, network.Gateway6, endpoint.ContainerIfName);
            });
        }
        catch
        {
            DeleteMade(endpoint.HostVeth);
            throw;
        }
    }

    /// <summary>Removes the pair by its host end; a no-op when it is already gone (the container's namespace died
    /// and took the pair with it). Only a veth that is a port of <paramref name="bridge"/> (or of no bridge, once that
    /// bridge is gone) is taken for ours: an interface someone else made under that name stays.</summary>
    public static void Detach(string hostVeth, string bridge)
    {
        using var nl = RtNetlink.Open();
        if (nl.GetLink(hostVeth) is not { Kind: "veth" } link) return;
        int bridgeIndex = bridge.Length == 0 ? 0 : nl.GetLink(bridge)?.Index ?? 0;
        if (link.MasterIndex != bridgeIndex) return;
        try { nl.DeleteLink(hostVeth); }
        catch (NetlinkException e) when (e.Errno == ENODEV) { /* vanished with its namespace meanwhile */ }
    }

    /// <summary>Deletes a veth this process has just made (the undo of <see cref="Attach"/>).</summary>
    private static void DeleteMade(string hostVeth)
    {
        using var nl = RtNetlink.Open();
        try { nl.DeleteLink(hostVeth); }
        catch (NetlinkException e) when (e.Errno == ENODEV) { /* vanished with its namespace meanwhile */ }
    }

    public static IReadOnlyList<(IPAddress Destination, int Prefix)> HostRoutes()
    {
        using var nl = RtNetlink.Open();
        return nl.ListRoutes().Where(r => r.Destination is not null)
            .Select(r => (r.Destination!, r.PrefixLength)).ToList();
    }

    /// <summary>The host's IPv6 routes of the main table (for the overlap check of a new IPv6 subnet).</summary>
    public static IReadOnlyList<(IPAddress Destination, int Prefix)> HostRoutes6()
    {
        using var nl = RtNetlink.Open();
        return nl.ListRoutes6().Where(r => r.Destination is not null)
            .Select(r => (r.Destination!, r.PrefixLength)).ToList();
    }

    private static byte[] ParseMac(string mac) => mac.Split(':').Select(h => Convert.ToByte(h, 16)).ToArray();

    private static void Sysctl(string key, string value)
    {
        string path = "/proc/sys/" + key;
        if (File.ReadAllText(path).Trim() != value) File.WriteAllText(path, value);
    }
}
