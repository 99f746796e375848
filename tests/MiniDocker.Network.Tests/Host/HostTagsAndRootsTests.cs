using System.Net;

namespace MiniDocker.Network.Tests;

/// <summary>The marks on host objects and the host-wide record of roots, which the orphan sweep relies on.</summary>
public sealed class HostTagsAndRootsTests : IDisposable
{
    private readonly TempStateRoot _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("minidocker:net:web", "", "web")]
    [InlineData("minidocker:net:a4e19859:bridge", "a4e19859", "bridge")]
    [InlineData("minidocker:ctr:0123456789ab", "", "0123456789ab")]
    [InlineData("minidocker:ctr:a4e19859:0123456789ab", "a4e19859", "0123456789ab")]
    public void Tags_are_parsed_into_scope_and_name(string tag, string scope, string name)
    {
        Assert.True(HostTags.TryParse(tag, out string s, out string n));
        Assert.Equal((scope, name), (s, n));
    }

    [Theory]
    [InlineData("minidocker:base")]
    [InlineData("docker:net:x")]
    [InlineData("minidocker:net:")]
    [InlineData("minidocker:net::x")]
    [InlineData("minidocker:net:a:b:c")]
    [InlineData(null)]
    public void Text_that_is_not_a_tag_of_ours_is_not_parsed(string? text) => Assert.False(HostTags.TryParse(text, out _, out _));

    [Fact]
    public void The_bridge_mac_is_unicast_locally_administered_and_stable_per_network()
    {
        byte[] mac = HostTags.BridgeMac(HostTags.Network("a4e19859", "web"));
        Assert.Equal(0x02, mac[0]);
        Assert.Equal(6, mac.Length);
        Assert.Equal(mac, HostTags.BridgeMac(HostTags.Network("a4e19859", "web")));
        Assert.NotEqual(mac, HostTags.BridgeMac(HostTags.Network("a4e19859", "db")));
    }

    [Fact]
    public void A_root_is_gone_only_when_it_is_recorded_and_its_directory_is_missing()
    {
        var registry = new RootRegistry(Path.Combine(_dir.Path, "roots"));
        string root = Path.Combine(_dir.Path, "root1");
        Directory.CreateDirectory(root);
        string scope = NetworkStore.ScopeOf(root);

        Assert.False(registry.IsGone(scope)); // not recorded: unknown, never an orphan
        Assert.Null(registry.RootOf(scope));
        registry.Register(root);
        Assert.Equal(root, registry.RootOf(scope));
        Assert.False(registry.IsGone(scope));
        Directory.Delete(root);
        Assert.True(registry.IsGone(scope));
        Assert.Equal([scope], registry.Scopes());
        registry.ForgetScope(scope);
        Assert.Empty(registry.Scopes());
        Assert.False(registry.IsGone("../../etc")); // never a path
    }
}

public sealed class NetworkRemovalRecordTests : IDisposable
{
    private static readonly IReadOnlyList<(IPAddress, int)> NoRoutes = [];
    private readonly TempStateRoot _root = new();
    private readonly NetworkStore _store;

    public NetworkRemovalRecordTests() => _store = new NetworkStore(_root.Path);

    public void Dispose() => _root.Dispose();

    [Theory]
    [InlineData("host")]
    [InlineData("none")]
    public void The_names_of_network_modes_are_refused(string name)
    {
        var e = Assert.Throws<NetworkException>(() => _store.Create(name, "10.30.0.0/24", null, NoRoutes));
        Assert.Equal($"operation is not permitted on predefined {name} network", e.Message);
        Assert.Empty(_store.List());
    }

    [Fact]
    public void A_network_being_removed_takes_no_container_and_its_removal_is_found_again()
    {
        _store.Create("web", "10.30.0.0/24", null, NoRoutes);
        _store.MarkRemoving("web");
        Assert.True(_store.IsRemoving("web"));
        var e = Assert.Throws<NetworkException>(() =>
            _store.Attach("web", "0123456789ab0123456789ab", IPAddress.Parse("10.30.0.2"), []));
        Assert.Equal("network web is being removed", e.Message);
        Assert.Equal(["web"], _store.PendingRemovals().Select(n => n.Name));

        _store.Remove("web");
        Assert.False(_store.IsRemoving("web"));
        Assert.Empty(_store.PendingRemovals());
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(_root.Path, "networks")), f => !Path.GetFileName(f).StartsWith('.'));
    }

    [Fact]
    public void A_marker_whose_record_is_gone_does_not_outlive_the_next_sweep_or_block_a_new_network()
    {
        _store.Create("web", "10.30.0.0/24", null, NoRoutes);
        _store.MarkRemoving("web");
        File.Delete(Path.Combine(_root.Path, "networks", "web.json")); // killed just before the marker went
        _store.Create("web", "10.30.0.0/24", null, NoRoutes);
        Assert.False(_store.IsRemoving("web"));
        _store.MarkRemoving("web");
        File.Delete(Path.Combine(_root.Path, "networks", "web.json"));
        Assert.Empty(_store.PendingRemovals());
        Assert.False(_store.IsRemoving("web"));
    }

    [Fact]
    public void Removal_is_refused_while_containers_are_attached_and_leaves_no_marker()
    {
        _store.Create("web", "10.30.0.0/24", null, NoRoutes);
        _store.Attach("web", "0123456789ab0123456789ab", IPAddress.Parse("10.30.0.2"), []);
        var e = Assert.Throws<NetworkException>(() => _store.MarkRemoving("web"));
        Assert.Contains("still attached (0123456789ab)", e.Message);
        Assert.False(_store.IsRemoving("web"));
    }
}
