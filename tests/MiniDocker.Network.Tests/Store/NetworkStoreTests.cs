using System.Net;

namespace MiniDocker.Network.Tests;

public sealed class NetworkStoreTests : IDisposable
{
    private static readonly IReadOnlyList<(IPAddress, int)> HostRoutes =
    [
        (IPAddress.Any, 0), // the default route, ignored
        (IPAddress.Parse("192.0.2.0"), 24),
    ];

    private readonly TempStateRoot _root = new();
    private readonly NetworkStore _store;

    public NetworkStoreTests() => _store = new NetworkStore(_root.Path);

    public void Dispose() => _root.Dispose();

    [Fact]
    public void Create_PersistsNetworkWithDefaults()
    {
        NetworkRecord created = _store.Create("web", "10.20.0.0/24", null, HostRoutes);

        Assert.Equal("bridge", created.Driver);
        Assert.Equal("10.20.0.0/24", created.Subnet.ToString());
        Assert.Equal(IPAddress.Parse("10.20.0.1"), created.Gateway);
        Assert.Equal(InterfaceNames.DefaultBridge("web"), created.Bridge);
        Assert.Matches("^mdk-[0-9a-f]{8}$", created.Bridge);

        NetworkRecord reread = new NetworkStore(_root.Path).Get("web");
        Assert.Equal(created.Subnet, reread.Subnet);
        Assert.Equal(created.Gateway, reread.Gateway);
        Assert.Equal(created.Bridge, reread.Bridge);
        Assert.Equal(created.Created, reread.Created);

        string json = File.ReadAllText(Path.Combine(_root.Path, "networks", "web.json"));
        Assert.Contains("\"Subnet\": \"10.20.0.0/24\"", json);
        Assert.Contains("\"Gateway\": \"10.20.0.1\"", json);
    }

    [Fact]
    public void Create_WithGatewayAndBridgeOption()
    {
        NetworkRecord created = _store.Create("db", "10.21.0.0/16", "10.21.3.4", HostRoutes,
            options: new Dictionary<string, string> { ["bridge-name"] = "br-db" });

        Assert.Equal(IPAddress.Parse("10.21.3.4"), created.Gateway);
        Assert.Equal("br-db", created.Bridge);
        Assert.Equal("br-db", _store.Get("db").Options["bridge-name"]);
    }

    [Theory]
    [InlineData("bad name", "10.30.0.0/24", null, "invalid network name 'bad name': must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]
    [InlineData("-x", "10.30.0.0/24", null, "invalid network name '-x'")]
    [InlineData("bridge", "10.30.0.0/24", null, "network name bridge is reserved for the default network")]
    [InlineData("n", "10.30.0.0", null, "invalid subnet '10.30.0.0': expected CIDR form ADDRESS/PREFIX")]
    [InlineData("n", "10.300.0.0/24", null, "invalid subnet '10.300.0.0/24': '10.300.0.0' is not an IP address")]
    [InlineData("n", "fd00::/64", null, "invalid subnet 'fd00::/64': only IPv4 is supported")]
    [InlineData("n", "10.30.0.0/31", null, "invalid subnet '10.30.0.0/31': prefix must be at most /30")]
    [InlineData("n", "10.30.0.0/33", null, "invalid subnet '10.30.0.0/33': prefix '33' must be a number 0-32")]
    [InlineData("n", "10.30.0.5/24", null, "invalid subnet '10.30.0.5/24': host bits are set, did you mean 10.30.0.0/24?")]
    [InlineData("n", "127.1.0.0/16", null, "invalid subnet '127.1.0.0/16': overlaps the loopback (127.0.0.0/8) range")]
    [InlineData("n", "10.30.0.0/24", "10.31.0.1", "gateway 10.31.0.1 is outside subnet 10.30.0.0/24")]
    [InlineData("n", "10.30.0.0/24", "10.30.0.0", "gateway 10.30.0.0 is the network address of subnet 10.30.0.0/24")]
    [InlineData("n", "10.30.0.0/24", "10.30.0.255", "gateway 10.30.0.255 is the broadcast address of subnet 10.30.0.0/24")]
    [InlineData("n", "10.30.0.0/24", "fe80::1", "invalid gateway 'fe80::1': only IPv4 is supported")]
    [InlineData("n", "10.30.0.0/24", "10.30.1", "invalid gateway '10.30.1': not a dotted-quad IPv4 address")]
    [InlineData("n", "192.0.2.128/25", null, "subnet 192.0.2.128/25 overlaps host route 192.0.2.0/24")]
    [InlineData("n", "192.0.0.0/16", null, "subnet 192.0.0.0/16 overlaps host route 192.0.2.0/24")]
    public void Create_RejectsInvalidRequestAndCreatesNothing(string name, string subnet, string? gateway, string expected)
    {
        var error = Assert.Throws<NetworkException>(() => _store.Create(name, subnet, gateway, HostRoutes));

        Assert.StartsWith(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Empty(_store.List());
        Assert.False(Directory.Exists(Path.Combine(_root.Path, "networks", "ipam"))
            && Directory.EnumerateFiles(Path.Combine(_root.Path, "networks", "ipam"), "*.json").Any());
    }

    [Fact]
    public void Create_RejectsDuplicateName()
    {
        _store.Create("web", "10.20.0.0/24", null, HostRoutes);

        var error = Assert.Throws<NetworkException>(() => _store.Create("web", "10.22.0.0/24", null, HostRoutes));

        Assert.Equal("network with name web already exists", error.Message);
        Assert.Equal("10.20.0.0/24", _store.Get("web").Subnet.ToString());
    }

    [Theory]
    [InlineData("10.20.0.0/24")]
    [InlineData("10.20.0.128/25")]
    [InlineData("10.0.0.0/8")]
    public void Create_RejectsSubnetOverlappingAnotherNetwork(string subnet)
    {
        _store.Create("web", "10.20.0.0/24", null, HostRoutes);

        var error = Assert.Throws<NetworkException>(() => _store.Create("other", subnet, null, HostRoutes));

        Assert.Equal($"subnet {subnet} overlaps subnet 10.20.0.0/24 of network web", error.Message);
        Assert.Single(_store.List());
    }

    [Fact]
    public void Create_AcceptsAdjacentSubnet()
    {
        _store.Create("a", "10.20.0.0/24", null, HostRoutes);
        _store.Create("b", "10.20.1.0/24", null, HostRoutes);

        Assert.Equal(["a", "b"], _store.List().Select(n => n.Name));
    }

    [Theory]
    [InlineData("this-name-is-too-long", "invalid bridge name 'this-name-is-too-long': must be 1-15 bytes of [a-zA-Z0-9_.-]")]
    [InlineData("br/0", "invalid bridge name 'br/0'")]
    [InlineData("", "invalid bridge name ''")]
    [InlineData("minidocker0", "bridge name minidocker0 is reserved for the default network 'bridge'")]
    public void Create_RejectsInvalidBridgeName(string bridge, string expected)
    {
        var error = Assert.Throws<NetworkException>(() => _store.Create("n", "10.20.0.0/24", null, HostRoutes,
            options: new Dictionary<string, string> { ["bridge-name"] = bridge }));

        Assert.StartsWith(expected, error.Message);
        Assert.Empty(_store.List());
    }

    [Fact]
    public void Create_RejectsBridgeNameOfAnotherNetwork()
    {
        _store.Create("a", "10.20.0.0/24", null, HostRoutes, options: new Dictionary<string, string> { ["bridge-name"] = "br-shared" });

        var error = Assert.Throws<NetworkException>(() => _store.Create("b", "10.21.0.0/24", null, HostRoutes,
            options: new Dictionary<string, string> { ["bridge-name"] = "br-shared" }));

        Assert.Equal("bridge name br-shared is already used by network a", error.Message);
    }

    [Fact]
    public void Create_RejectsUnknownDriverAndOption()
    {
        Assert.Equal("unknown network driver 'overlay': use bridge, macvlan or ipvlan",
            Assert.Throws<NetworkException>(() => _store.Create("n", "10.20.0.0/24", null, HostRoutes, driver: "overlay")).Message);
        Assert.StartsWith("unknown network option 'com.docker.network.bridge.enable_icc': use bridge-name",
            Assert.Throws<NetworkException>(() => _store.Create("n", "10.20.0.0/24", null, HostRoutes,
                options: new Dictionary<string, string> { ["com.docker.network.bridge.enable_icc"] = "false" })).Message);
        Assert.Empty(_store.List());
    }

    [Fact]
    public void EnsureDefault_CreatesBridgeNetworkOnce()
    {
        NetworkRecord first = _store.EnsureDefault(HostRoutes);
        NetworkRecord second = _store.EnsureDefault(HostRoutes);

        Assert.Equal("bridge", first.Name);
        Assert.Equal(_store.DefaultBridge, first.Bridge);
        Assert.Equal("172.29.0.0/16", first.Subnet.ToString());
        Assert.Equal(IPAddress.Parse("172.29.0.1"), first.Gateway);
        Assert.Equal(first.Created, second.Created);
    }

    [Fact]
    public void EnsureDefault_SkipsTakenSubnets()
    {
        _store.Create("user", "172.29.5.0/24", null, HostRoutes);
        IReadOnlyList<(IPAddress, int)> routes = [.. HostRoutes, (IPAddress.Parse("172.30.0.0"), 16)];

        NetworkRecord created = _store.EnsureDefault(routes);

        Assert.Equal("172.31.0.0/16", created.Subnet.ToString());
    }

    [Fact]
    public void Remove_DeletesNetworkAndIpamState()
    {
        NetworkRecord network = _store.Create("web", "10.20.0.0/24", null, HostRoutes);
        var ipam = new Ipam(_root.Path);
        ipam.Allocate("web", network.Subnet, network.Gateway, "c1", null);

        _store.Remove("web");

        Assert.Null(_store.Find("web"));
        Assert.Empty(ipam.Allocations("web"));
        Assert.False(File.Exists(Path.Combine(_root.Path, "networks", "ipam", "web.json")));
        Assert.Equal("network web not found", Assert.Throws<NetworkException>(() => _store.Remove("web")).Message);
    }

    [Fact]
    public void Remove_RefusesWhileContainersAreAttached()
    {
        _store.Create("web", "10.20.0.0/24", null, HostRoutes);
        _store.Attach("web", "c0ffee01", IPAddress.Parse("10.20.0.2"), []);

        var error = Assert.Throws<NetworkException>(() => _store.Remove("web"));

        Assert.Equal("cannot remove network web: containers still attached: c0ffee01", error.Message);
        Assert.NotNull(_store.Find("web"));

        Assert.True(_store.Detach("web", "c0ffee01"));
        _store.Remove("web");
        Assert.Null(_store.Find("web"));
    }

    [Fact]
    public void Remove_DefaultNetworkWhenUnusedIsRecreatedOnNextUse()
    {
        // Unlike Docker (one daemon, one docker0), every --root has a default network of its own; removing it when
        // nothing is attached is how a lab or test root leaves the host clean.
        NetworkRecord first = _store.EnsureDefault(HostRoutes);
        _store.Remove("bridge");
        Assert.Null(_store.Find("bridge"));
        Assert.Equal(first.Subnet, _store.EnsureDefault(HostRoutes).Subnet);
    }

    [Fact]
    public void DefaultBridge_IsMinidocker0OnlyForTheDefaultRoot()
    {
        Assert.Equal("minidocker0", new NetworkStore("/var/lib/minidocker").DefaultBridge);
        Assert.Matches("^mdk0-[0-9a-f]{8}$", _store.DefaultBridge);
        Assert.NotEqual(_store.DefaultBridge, new NetworkStore(_store.DefaultBridge + "-other").DefaultBridge);
    }

    [Fact]
    public void Attach_PersistsEndpointWithDockerStyleMacAndUniqueVeth()
    {
        _store.Create("web", "10.20.0.0/24", null, HostRoutes);
        var ports = new List<PortMapping> { new(null, 8080, 80, "tcp") };

        EndpointRecord endpoint = _store.Attach("web", "abcdef0123456789", IPAddress.Parse("10.20.0.5"), ports);

        Assert.Equal("02:42:0a:14:00:05", endpoint.MAC);
        Assert.Equal("eth0", endpoint.ContainerIfName);
        Assert.Equal(InterfaceNames.HostVeth("abcdef0123456789", "web"), endpoint.HostVeth);

        EndpointRecord reread = Assert.Single(new NetworkStore(_root.Path).Endpoints("web"));
        Assert.Equal(endpoint.HostVeth, reread.HostVeth);
        Assert.Equal(IPAddress.Parse("10.20.0.5"), reread.IP);
        Assert.Equal(ports, reread.Ports);
    }

    [Fact]
    public void Attach_RejectsSecondAttachAndForeignAddress()
    {
        _store.Create("web", "10.20.0.0/24", null, HostRoutes);
        _store.Attach("web", "c1", IPAddress.Parse("10.20.0.2"), []);

        Assert.Equal("container c1 is already attached to network web",
            Assert.Throws<NetworkException>(() => _store.Attach("web", "c1", IPAddress.Parse("10.20.0.3"), [])).Message);
        Assert.Equal("address 10.99.0.3 is outside subnet 10.20.0.0/24 of network web",
            Assert.Throws<NetworkException>(() => _store.Attach("web", "c2", IPAddress.Parse("10.99.0.3"), [])).Message);
        Assert.Equal("network nope not found",
            Assert.Throws<NetworkException>(() => _store.Attach("nope", "c2", IPAddress.Parse("10.20.0.3"), [])).Message);
    }

    [Fact]
    public void Attach_ManyContainersGetDistinctVethNames()
    {
        _store.Create("a", "10.20.0.0/24", null, HostRoutes);
        _store.Create("b", "10.21.0.0/24", null, HostRoutes);
        for (int i = 0; i < 100; i++)
        {
            _store.Attach("a", $"c{i}", IPAddress.Parse($"10.20.0.{i + 2}"), []);
            _store.Attach("b", $"c{i}", IPAddress.Parse($"10.21.0.{i + 2}"), []);
        }

        IReadOnlyList<EndpointRecord> all = _store.Endpoints(null);

        Assert.Equal(200, all.Count);
        Assert.Equal(200, all.Select(e => e.HostVeth).Distinct().Count());
        Assert.All(all, e => Assert.Matches("^mdk[0-9a-f]{8}$", e.HostVeth));
    }

    [Fact]
    public void Attach_RehashesVethNameTakenByAnotherEndpoint()
    {
        _store.Create("web", "10.20.0.0/24", null, HostRoutes);
        // Simulate a hash collision: an endpoint whose stored host veth is exactly the first choice for c2.
        string wanted = InterfaceNames.HostVeth("c2", "web");
        EndpointRecord first = _store.Attach("web", "c1", IPAddress.Parse("10.20.0.2"), []);
        string path = Path.Combine(_root.Path, "networks", "endpoints", "web", "c1.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace(first.HostVeth, wanted));

        EndpointRecord second = _store.Attach("web", "c2", IPAddress.Parse("10.20.0.3"), []);

        Assert.NotEqual(wanted, second.HostVeth);
        Assert.Equal(InterfaceNames.HostVeth("c2", "web", attempt: 1), second.HostVeth);
    }

    [Fact]
    public void Detach_IsIdempotent()
    {
        _store.Create("web", "10.20.0.0/24", null, HostRoutes);
        _store.Attach("web", "c1", IPAddress.Parse("10.20.0.2"), []);

        Assert.True(_store.Detach("web", "c1"));
        Assert.False(_store.Detach("web", "c1"));
        Assert.Empty(_store.Endpoints("web"));
    }

    [Fact]
    public void CorruptStateFile_GivesOneLineError()
    {
        _store.Create("web", "10.20.0.0/24", null, HostRoutes);
        File.WriteAllText(Path.Combine(_root.Path, "networks", "web.json"), "{ not json");

        var error = Assert.Throws<NetworkException>(() => _store.Get("web"));

        Assert.StartsWith($"state file {Path.Combine(_root.Path, "networks", "web.json")} is corrupt:", error.Message);
    }

    [Fact]
    public void NoTempFilesAreLeftBehind()
    {
        _store.Create("web", "10.20.0.0/24", null, HostRoutes);
        _store.Attach("web", "c1", IPAddress.Parse("10.20.0.2"), []);

        string[] files = Directory.GetFiles(Path.Combine(_root.Path, "networks"), "*", SearchOption.AllDirectories)
            .Select(Path.GetFileName).ToArray()!;

        Assert.DoesNotContain(files, f => f.Contains(".tmp-"));
    }
}
