using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using MiniDocker.Linux;

namespace MiniDocker.Netlink;

/// <summary>
/// rtnetlink client for the network namespace it was opened in: links (bridge, veth), IPv4 addresses and routes.
/// One socket and one pair of buffers per instance, reused by every call. Not thread-safe.
/// Methods taking a link name resolve it with one RTM_GETLINK first; an unknown name throws
/// <see cref="NetlinkException"/> "link 'NAME': No such device".
/// </summary>
public sealed partial class RtNetlink : IDisposable
{
    // A dump interrupted by concurrent changes is retried this many times before giving up.
    private const int DumpAttempts = 5;
    private const int MaxLinkNameBytes = 15; // IFNAMSIZ - 1

    private readonly NetlinkSocket _socket;
    private readonly NetlinkMessageBuilder _request = new();
    private readonly List<LinkInfo> _singleLink = new(1);
    private uint _sequence;

    private RtNetlink(NetlinkSocket socket)
    {
        _socket = socket;
    }

    /// <summary>Opens an rtnetlink socket in the calling thread's current network namespace.</summary>
    public static RtNetlink Open() => new(NetlinkSocket.OpenRoute());

    /// <summary>
    /// Runs <paramref name="work"/> on a fresh dedicated thread that has entered the network namespace at
    /// <paramref name="netnsPath"/> (e.g. "/proc/1234/ns/net" or "/run/netns/x"), with an RtNetlink opened there.
    /// Returns its result or rethrows its exception (see <see cref="NetNs.OnThreadIn{T}"/>).
    /// </summary>
    public static T InNamespace<T>(string netnsPath, Func<RtNetlink, T> work) =>
        NetNs.OnThreadIn(netnsPath, () =>
        {
            using var netlink = Open();
            return work(netlink);
        });

    /// <inheritdoc cref="InNamespace{T}(string, Func{RtNetlink, T})"/>
    public static void InNamespace(string netnsPath, Action<RtNetlink> work) =>
        InNamespace<object?>(netnsPath, netlink =>
        {
            work(netlink);
            return null;
        });

    /// <summary>The link named <paramref name="name"/>, or null if this namespace has none.</summary>
    public LinkInfo? GetLink(string name)
    {
        CheckLinkName(name);
        RtnlRequests.GetLink(_request, NextSequence(), name);
        _singleLink.Clear();
        var reply = Exchange(Rtnl.NewLink, RtnlParsers.Link, _singleLink);
        if (reply.Errno == Libc.ENODEV)
            return null;
        ThrowOnError(reply, "link", name);
        return _singleLink.Count == 1 ? _singleLink[0] : throw new InvalidDataException($"RTM_GETLINK '{name}' was answered without RTM_NEWLINK");
    }

    public IReadOnlyList<LinkInfo> ListLinks() => Dump(RtnlRequests.DumpLinks, Rtnl.NewLink, RtnlParsers.Link, "links");

    /// <summary>IPv4 addresses of all links.</summary>
    public IReadOnlyList<AddressInfo> ListAddresses() => Dump(RtnlRequests.DumpAddresses, Rtnl.NewAddr, RtnlParsers.IPv4Address, "addresses");

    /// <summary>IPv4 routes of the main table.</summary>
    public IReadOnlyList<RouteInfo> ListRoutes() => Dump(RtnlRequests.DumpRoutes, Rtnl.NewRoute, RtnlParsers.IPv4MainRoute, "routes");

    /// <summary>Creates a bridge, down. With <paramref name="mac"/> its address is fixed: otherwise the kernel gives
    /// it the lowest MAC of its ports, which changes as ports come and go (and neighbours' ARP caches go stale).</summary>
    public void CreateBridge(string name, byte[]? mac = null)
    {
        CheckLinkName(name);
        if (mac is not null && mac.Length != 6) throw new ArgumentException("a MAC address has 6 bytes", nameof(mac));
        RtnlRequests.CreateBridge(_request, NextSequence(), name, mac);
        Acknowledge("bridge", name);
    }

    /// <summary>Sets the link's alias (IFLA_IFALIAS, at most 255 bytes); "" removes it.</summary>
    public void SetAlias(string name, string alias)
    {
        if (Encoding.UTF8.GetByteCount(alias) > 255) throw new ArgumentException("an alias has at most 255 bytes", nameof(alias));
        RtnlRequests.SetAlias(_request, NextSequence(), IndexOf(name), alias);
        Acknowledge("set link", name, $"alias '{alias}'");
    }

    /// <summary>Creates a veth pair with both ends in this namespace.</summary>
    public void CreateVeth(string name, string peerName)
    {
        CheckLinkName(name);
        CheckLinkName(peerName);
        RtnlRequests.CreateVeth(_request, NextSequence(), name, peerName);
        Acknowledge("veth", name);
    }

    /// <summary>
    /// Creates a veth pair whose end <paramref name="name"/> is a port of bridge <paramref name="bridge"/> and up, and
    /// whose other end is created directly in the namespace behind <paramref name="peerNetns"/> as
    /// <paramref name="peerName"/> with MAC <paramref name="peerMac"/> (down; bring it up from inside).
    /// </summary>
    public void CreateVethInto(string name, string bridge, string peerName, SafeHandle peerNetns, byte[] peerMac)
    {
        CheckLinkName(name);
        CheckLinkName(peerName);
        var masterIndex = IndexOf(bridge);
        var added = false;
        peerNetns.DangerousAddRef(ref added);
        try
        {
            RtnlRequests.CreateVethInto(_request, NextSequence(), name, masterIndex, peerName, (int)peerNetns.DangerousGetHandle(), peerMac);
            Acknowledge("veth", name);
        }
        finally
        {
            if (added) peerNetns.DangerousRelease();
        }
    }

    /// <summary>Moves a link into the network namespace behind <paramref name="netnsFd"/> (see <see cref="NetNs.Open"/>).</summary>
    public void MoveToNamespace(string name, SafeHandle netnsFd)
    {
        var index = IndexOf(name);
        var added = false;
        netnsFd.DangerousAddRef(ref added);
        try
        {
            RtnlRequests.MoveToNamespace(_request, NextSequence(), index, (int)netnsFd.DangerousGetHandle());
            Acknowledge("move link", name, "to another netns");
        }
        finally
        {
            if (added) netnsFd.DangerousRelease();
        }
    }

    /// <summary>Enslaves a link to a bridge.</summary>
    public void SetMaster(string name, string masterName)
    {
        var index = IndexOf(name);
        var masterIndex = IndexOf(masterName);
        RtnlRequests.SetMaster(_request, NextSequence(), index, masterIndex);
        Acknowledge("set link", name, $"master '{masterName}'");
    }

    public void SetUp(string name)
    {
        RtnlRequests.SetUp(_request, NextSequence(), IndexOf(name), up: true);
        Acknowledge("set link", name, "up");
    }

    public void SetDown(string name)
    {
        RtnlRequests.SetUp(_request, NextSequence(), IndexOf(name), up: false);
        Acknowledge("set link", name, "down");
    }

    /// <summary>
    /// Renames a link. Kernels before 6.2 refuse with EBUSY while the link is up, so rename before <see cref="SetUp"/>.
    /// </summary>
    public void Rename(string name, string newName)
    {
        CheckLinkName(newName);
        RtnlRequests.Rename(_request, NextSequence(), IndexOf(name), newName);
        Acknowledge("rename link", name, $"to '{newName}'");
    }

    public void SetMac(string name, byte[] mac)
    {
        RtnlRequests.SetMac(_request, NextSequence(), IndexOf(name), mac);
        Acknowledge("set link", name, $"address {string.Join(':', mac.Select(b => b.ToString("x2")))}");
    }

    public void SetMtu(string name, int mtu)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(mtu);
        RtnlRequests.SetMtu(_request, NextSequence(), IndexOf(name), mtu);
        Acknowledge("set link", name, $"mtu {mtu}");
    }

    /// <summary>
    /// Lets a bridge send frames back out of the port they came in on, which a container needs to reach
    /// itself through a published port.
    /// </summary>
    public void SetHairpin(string bridgePortName, bool on)
    {
        RtnlRequests.SetHairpin(_request, NextSequence(), IndexOf(bridgePortName), on);
        Acknowledge("set bridge port", bridgePortName, on ? "hairpin on" : "hairpin off");
    }

    /// <summary>Deletes a link; deleting one end of a veth pair deletes both.</summary>
    public void DeleteLink(string name)
    {
        RtnlRequests.DeleteLink(_request, NextSequence(), IndexOf(name));
        Acknowledge("delete link", name);
    }

    /// <summary>Adds an IPv4 address with its broadcast address (like <c>ip addr add A/P brd + dev NAME</c>).</summary>
    public void AddAddress(string name, IPAddress address, int prefixLength)
    {
        CheckIPv4Prefix(address, prefixLength);
        RtnlRequests.AddAddress(_request, NextSequence(), IndexOf(name), address, prefixLength);
        Acknowledge("add address", $"{address}/{prefixLength}", $"on link '{name}'");
    }

    public void DeleteAddress(string name, IPAddress address, int prefixLength)
    {
        CheckIPv4Prefix(address, prefixLength);
        RtnlRequests.DeleteAddress(_request, NextSequence(), IndexOf(name), address, prefixLength);
        Acknowledge("delete address", $"{address}/{prefixLength}", $"on link '{name}'");
    }

    /// <summary>
    /// Adds an IPv4 route to the main table; 0.0.0.0/0 is the default route. Needs a gateway, a device, or both;
    /// without a gateway the route has link scope.
    /// </summary>
    public void AddRoute(IPAddress destination, int prefixLength, IPAddress? gateway, string? device)
    {
        CheckIPv4Prefix(destination, prefixLength);
        if (gateway is null && device is null)
            throw new ArgumentException("a route needs a gateway or a device");
        var outputIndex = device is null ? 0 : IndexOf(device);
        RtnlRequests.AddRoute(_request, NextSequence(), destination, prefixLength, gateway, outputIndex);
        var detail = (gateway, device) switch
        {
            (null, _) => $"dev '{device}'",
            (_, null) => $"via {gateway}",
            _ => $"via {gateway} dev '{device}'",
        };
        Acknowledge("add route", $"{destination}/{prefixLength}", detail);
    }

    /// <summary>IPv6 addresses of all links.</summary>
    public IReadOnlyList<AddressInfo> ListAddresses6() => Dump(RtnlRequests.DumpAddresses6, Rtnl.NewAddr, RtnlParsers.IPv6Address, "IPv6 addresses");

    /// <summary>IPv6 routes of the main table.</summary>
    public IReadOnlyList<RouteInfo> ListRoutes6() => Dump(RtnlRequests.DumpRoutes6, Rtnl.NewRoute, RtnlParsers.IPv6MainRoute, "IPv6 routes");

    /// <summary>Adds an IPv6 address with IFA_F_NODAD (usable at once; see <see cref="RtnlRequests.AddAddress6"/>).</summary>
    public void AddAddress6(string name, IPAddress address, int prefixLength)
    {
        CheckIPv6Prefix(address, prefixLength);
        RtnlRequests.AddAddress6(_request, NextSequence(), IndexOf(name), address, prefixLength);
        Acknowledge("add address", $"{address}/{prefixLength}", $"on link '{name}'");
    }

    public void DeleteAddress6(string name, IPAddress address, int prefixLength)
    {
        CheckIPv6Prefix(address, prefixLength);
        RtnlRequests.DeleteAddress6(_request, NextSequence(), IndexOf(name), address, prefixLength);
        Acknowledge("delete address", $"{address}/{prefixLength}", $"on link '{name}'");
    }

    /// <summary>Adds an IPv6 route to the main table; ::/0 is the default route.</summary>
    public void AddRoute6(IPAddress destination, int prefixLength, IPAddress? gateway, string? device)
    {
        CheckIPv6Prefix(destination, prefixLength);
        if (gateway is null && device is null)
            throw new ArgumentException("a route needs a gateway or a device");
        var outputIndex = device is null ? 0 : IndexOf(device);
        RtnlRequests.AddRoute6(_request, NextSequence(), destination, prefixLength, gateway, outputIndex);
        Acknowledge("add route", $"{destination}/{prefixLength}", gateway is null ? $"dev '{device}'" : $"via {gateway}");
    }

    private static void CheckIPv6Prefix(IPAddress address, int prefixLength)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            throw new ArgumentException($"'{address}' is not an IPv6 address", nameof(address));
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 128);
    }

    public void Dispose() => _socket.Dispose();

    private uint NextSequence() => ++_sequence;

    private int IndexOf(string name) => (GetLink(name) ?? throw new NetlinkException("link", name, Libc.ENODEV)).Index;

    // Change requests carry NLM_F_ACK: the only answer is one NLMSG_ERROR, whose code is 0 on success.
    private void Acknowledge(string what, string name, string? detail = null) =>
        ThrowOnError(Exchange<LinkInfo>(dataType: 0, parse: null, results: null), what, name, detail);

    private IReadOnlyList<T> Dump<T>(Action<NetlinkMessageBuilder, uint> request, ushort dataType, PayloadParser<T> parse, string what)
        where T : class
    {
        for (var attempt = 1; ; attempt++)
        {
            request(_request, NextSequence());
            var results = new List<T>();
            var reply = Exchange(dataType, parse, results);
            ThrowOnError(reply, "dump", what);
            if (!reply.DumpInterrupted)
                return results;
            if (attempt == DumpAttempts)
                throw new NetlinkException("dump", what, Libc.EINTR, $"changed during each of {DumpAttempts} attempts");
        }
    }

    private ReplyState Exchange<T>(ushort dataType, PayloadParser<T>? parse, List<T>? results) where T : class
    {
        _socket.Send(_request.Message);
        var state = new ReplyState();
        while (!state.Complete)
            NetlinkReplies.Scan(_socket.Receive(), _request.Sequence, dataType, parse, results, ref state);
        return state;
    }

    private static void ThrowOnError(in ReplyState reply, string what, string name, string? detail = null)
    {
        if (reply.Errno != 0)
            throw new NetlinkException(what, name, reply.Errno, detail, reply.KernelMessage);
    }

    private static void CheckLinkName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Encoding.UTF8.GetByteCount(name) > MaxLinkNameBytes)
            throw new ArgumentException($"link name '{name}' is longer than {MaxLinkNameBytes} bytes", nameof(name));
    }

    private static void CheckIPv4Prefix(IPAddress address, int prefixLength)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"'{address}' is not an IPv4 address", nameof(address));
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 32);
    }
}
