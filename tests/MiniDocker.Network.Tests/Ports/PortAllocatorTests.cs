using System.Net;
using System.Net.Sockets;

namespace MiniDocker.Network.Tests;

public sealed class PortAllocatorTests
{
    private static readonly IPAddress Loopback = IPAddress.Loopback;

    /// <summary>A port a host process is listening on right now (kernel-chosen, so no clash with other tests).</summary>
    private static Socket Listen(ProtocolType protocol, out int port)
    {
        var socket = protocol == ProtocolType.Udp
            ? new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)
            : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(Loopback, 0));
        if (protocol == ProtocolType.Tcp)
            socket.Listen();
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }

    [Fact]
    public void FixedPortPublishedByAnotherContainerIsRefused()
    {
        var allocator = new PortAllocator(40000, 40100);
        IReadOnlyList<PortMapping> others = [new(null, 8080, 80, "tcp")];

        var error = Assert.Throws<NetworkException>(() => allocator.Assign([new(Loopback, 8080, 8080, "tcp")], others));

        Assert.Equal("port 8080/tcp is already allocated", error.Message);
    }

    [Fact]
    public void SamePortOnOtherProtocolOrOtherHostIpIsFine()
    {
        var allocator = new PortAllocator(40000, 40100);
        // A port the kernel just handed out and we released: free on the host, so only the published list matters.
        using Socket probe = Listen(ProtocolType.Tcp, out int port);
        probe.Close();
        IReadOnlyList<PortMapping> others = [new(IPAddress.Parse("127.0.0.2"), port, 80, "tcp"), new(null, port, 80, "udp")];

        IReadOnlyList<PortMapping> assigned = allocator.Assign([new(Loopback, port, 80, "tcp")], others);

        Assert.Equal([new PortMapping(Loopback, port, 80, "tcp")], assigned);
    }

    [Fact]
    public void DuplicateWithinOneRequestIsRefused()
    {
        var allocator = new PortAllocator(40000, 40100);
        using Socket probe = Listen(ProtocolType.Tcp, out int port);
        probe.Close();

        var error = Assert.Throws<NetworkException>(() =>
            allocator.Assign([new(Loopback, port, 80, "tcp"), new(null, port, 81, "tcp")], []));

        Assert.Equal($"port {port}/tcp is already allocated", error.Message);
    }

    [Theory]
    [InlineData(ProtocolType.Tcp, "tcp")]
    [InlineData(ProtocolType.Udp, "udp")]
    public void PortBoundByHostProcessIsRefused(ProtocolType protocol, string name)
    {
        var allocator = new PortAllocator(40000, 40100);
        using Socket busy = Listen(protocol, out int port);

        var onSameAddress = Assert.Throws<NetworkException>(() => allocator.Assign([new(Loopback, port, 80, name)], []));
        var onAllAddresses = Assert.Throws<NetworkException>(() => allocator.Assign([new(null, port, 80, name)], []));

        Assert.Equal($"port {port}/{name} is already allocated", onSameAddress.Message);
        Assert.Equal($"port {port}/{name} is already allocated", onAllAddresses.Message);
    }

    [Fact]
    public void ProbeReleasesThePort()
    {
        var allocator = new PortAllocator(40000, 40100);
        using Socket probe = Listen(ProtocolType.Tcp, out int port);
        probe.Close();

        allocator.Assign([new(Loopback, port, 80, "tcp")], []);

        using var after = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        after.Bind(new IPEndPoint(Loopback, port));
    }

    [Fact]
    public void HostPortZeroGetsAFreePortFromTheRange()
    {
        // Range of three: one published by another container, one bound by a host process, one free.
        using Socket busy = Listen(ProtocolType.Tcp, out int busyPort);
        int low = busyPort - 1, high = busyPort + 1;
        using Socket lowCheck = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using Socket highCheck = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            lowCheck.Bind(new IPEndPoint(IPAddress.Any, low));
            highCheck.Bind(new IPEndPoint(IPAddress.Any, high));
        }
        catch (SocketException)
        {
            Assert.Fail($"ports next to {busyPort} are in use on this host; rerun");
        }
        lowCheck.Close();
        highCheck.Close();
        var allocator = new PortAllocator(low, high);
        IReadOnlyList<PortMapping> others = [new(null, low, 80, "tcp")];

        for (int round = 0; round < 10; round++)
        {
            IReadOnlyList<PortMapping> assigned = allocator.Assign([new(Loopback, 0, 80, "tcp")], others);
            Assert.Equal([new PortMapping(Loopback, high, 80, "tcp")], assigned);
        }
        var error = Assert.Throws<NetworkException>(() =>
            allocator.Assign([new(Loopback, 0, 80, "tcp"), new(Loopback, 0, 81, "tcp")], others));
        Assert.Equal($"no free host port for 81/tcp in range {low}-{high}", error.Message);
    }

    [Fact]
    public void AutomaticPicksAvoidFixedPortsOfTheSameRequest()
    {
        using Socket probe = Listen(ProtocolType.Tcp, out int port);
        probe.Close();
        var allocator = new PortAllocator(port, port + 1);

        for (int round = 0; round < 10; round++)
        {
            IReadOnlyList<PortMapping> assigned = allocator.Assign([new(Loopback, 0, 80, "tcp"), new(Loopback, port, 81, "tcp")], []);
            Assert.Equal(port + 1, assigned[0].HostPort);
            Assert.Equal(port, assigned[1].HostPort);
        }
    }

    [Fact]
    public void DefaultRangeIsTheKernelsEphemeralRange()
    {
        string[] range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

        PortMapping assigned = Assert.Single(new PortAllocator().Assign([new(Loopback, 0, 80, "tcp")], []));

        Assert.InRange(assigned.HostPort, int.Parse(range[0]), int.Parse(range[1]));
    }

    [Fact]
    public void HostIpThatIsNotLocalIsRefused()
    {
        var allocator = new PortAllocator(40000, 40100);

        // 203.0.113.0/24 is TEST-NET-3 and never configured here; binding it sends nothing.
        var error = Assert.Throws<NetworkException>(() => allocator.Assign([new(IPAddress.Parse("203.0.113.9"), 8080, 80, "tcp")], []));

        Assert.Equal("cannot publish on 203.0.113.9: not an address of this host", error.Message);
    }
}
