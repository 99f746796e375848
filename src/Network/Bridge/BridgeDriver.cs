using System.Net;
using MiniDocker.Netlink;

namespace MiniDocker.Network;

/// <summary>
/// The kernel side of a bridge network, over the project's own rtnetlink: the bridge with the gateway address, and
/// per container a veth pair whose host end is a bridge port and whose other end becomes the container's eth0.
/// </summary>
internal static class BridgeDriver
{
    /// <summary>Creates the bridge if it is missing (first use, or after a host reboot) and brings it up with the
    /// gateway address. Idempotent.</summary>
    public static void EnsureBridge(NetworkRecord network)
    {
        using var nl = RtNetlink.Open();
        var link = nl.GetLink(network.Bridge);
        if (link is null)
        {
            FailPoint.Check("bridge");
            nl.CreateBridge(network.Bridge);
            link = nl.GetLink(network.Bridge)!;
        }
        if (!nl.ListAddresses().Any(a => a.LinkIndex == link.Index && a.Address.Equals(network.Gateway)))
            nl.AddAddress(network.Bridge, network.Gateway, network.Subnet.Prefix);
        if (!link.IsUp) nl.SetUp(network.Bridge);
        // Outbound NAT needs forwarding; published ports on 127.0.0.1 need route_localnet on the bridge, because the
        // DNAT'ed packet keeps its loopback source on its way out of the bridge (see the firewall's MASQUERADE rule).
        Sysctl("net/ipv4/ip_forward", "1");
        Sysctl($"net/ipv4/conf/{network.Bridge}/route_localnet", "1");
    }

    public static void DeleteBridge(string bridge)
    {
        using var nl = RtNetlink.Open();
        if (nl.GetLink(bridge) is not null) nl.DeleteLink(bridge);
    }

    /// <summary>
    /// One veth pair: the host end created as a port of the bridge and up, the other end created directly inside the
    /// container's namespace as eth0 with its MAC (creating it there is cheap; moving a link between namespaces costs
    /// tens of milliseconds). Inside: the address, lo and eth0 up, the default route via the gateway. On failure the
    /// pair is deleted (deleting one end deletes both, wherever the other end is).
    /// </summary>
    public static void Attach(NetworkRecord network, EndpointRecord endpoint, string netnsPath, bool hairpin)
    {
        using var nl = RtNetlink.Open();
        FailPoint.Check("veth");
        using (var ns = NetNs.Open(netnsPath))
            nl.CreateVethInto(endpoint.HostVeth, network.Bridge, endpoint.ContainerIfName, ns, ParseMac(endpoint.MAC));
        try
        {
            // A container reaching its own published port through the host comes back out of the same bridge port.
            if (hairpin) nl.SetHairpin(endpoint.HostVeth, true);
            RtNetlink.InNamespace(netnsPath, inside =>
            {
                FailPoint.Check("container-link");
                inside.AddAddress(endpoint.ContainerIfName, endpoint.IP, network.Subnet.Prefix);
                inside.SetUp("lo");
                inside.SetUp(endpoint.ContainerIfName);
                FailPoint.Check("route");
                inside.AddRoute(IPAddress.Any, 0, network.Gateway, endpoint.ContainerIfName);
            });
        }
        catch
        {
            Detach(endpoint.HostVeth);
            throw;
        }
    }

    /// <summary>Removes the pair by its host end; a no-op when it is already gone (the container's namespace died
    /// and took the pair with it).</summary>
    public static void Detach(string hostVeth)
    {
        using var nl = RtNetlink.Open();
        if (nl.GetLink(hostVeth) is not null)
        {
            try { nl.DeleteLink(hostVeth); }
            catch (NetlinkException e) when (e.Errno == 19) { /* ENODEV: vanished with its namespace meanwhile */ }
        }
    }

    /// <summary>`--net none`: only lo, and up.</summary>
    public static void LoopbackOnly(string netnsPath) => RtNetlink.InNamespace(netnsPath, nl => nl.SetUp("lo"));

    public static IReadOnlyList<(IPAddress Destination, int Prefix)> HostRoutes()
    {
        using var nl = RtNetlink.Open();
        return nl.ListRoutes().Where(r => r.Destination is not null)
            .Select(r => (r.Destination!, r.PrefixLength)).ToList();
    }

    private static byte[] ParseMac(string mac) => mac.Split(':').Select(h => Convert.ToByte(h, 16)).ToArray();

    private static void Sysctl(string key, string value)
    {
        string path = "/proc/sys/" + key;
        if (File.ReadAllText(path).Trim() != value) File.WriteAllText(path, value);
    }
}
