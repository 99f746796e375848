using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MiniDocker.Runtime.Cgroups;
using MiniDocker.Runtime.Init;
using MiniDocker.Runtime.Security;
using MiniDocker.Runtime.Volumes;

namespace MiniDocker.Runtime.Tests;

/// <summary>The init's own reader of config.json against the serializer the CLI writes it with: every property of the
/// config is either read by the init or named as not the init's, and what it reads comes back as written.</summary>
public sealed class InitConfigReaderTests
{
    private static JsonTypeInfo Info(Type type) => RuntimeJson.Default.GetTypeInfo(type)!;

    // Computed ([JsonIgnore], get-only) properties are listed too, with no setter: never in the file.
    private static IEnumerable<string> Names(Type type) => Info(type).Properties.Where(p => p.Set is not null).Select(p => p.Name);

    [Fact]
    public void Every_config_property_is_read_by_the_init_or_named_as_not_its()
    {
        var all = Names(typeof(ContainerConfig)).Order(StringComparer.Ordinal);
        Assert.Equal(all, InitConfigReader.ConfigProperties.Concat(InitConfigReader.NotForTheInit).Order(StringComparer.Ordinal));
    }

    private static ContainerConfig Populated() => new()
    {
        Id = new string('a', 64), Name = "web", Image = "busybox", ImageId = "sha256:1", RootfsLower = "/l0", RootfsLowers = ["/l0", "/l1"],
        StopSignal = "SIGQUIT", Args = ["sh", "-c", "echo \"hi\" \\ \u00e9"], Env = ["A=1", "B=two words"], WorkingDir = "/srv",
        Hostname = "box", Tty = true, Interactive = true, Detach = true, AutoRemove = true, NetworkMode = "testbr",
        RequestedIp = "10.0.0.9", Publish = ["8080:80"], NetworkOptions = new ContainerNetworkOptions { Aliases = ["x"] },
        Devices = [new DeviceMapping { PathOnHost = "/dev/fuse", PathInContainer = "/dev/f", Type = "b", Major = 10, Minor = 229, Permissions = "rw", FileMode = 0x21b6, Uid = 5, Gid = 6 }],
        Security = new SecurityConfig { SecurityOpt = ["no-new-privileges"], NoNewPrivileges = true, SeccompProfile = "default", SeccompFilter = [6, 0, 0, 0, 0, 0, 0xff, 0x7f] },
        Created = DateTimeOffset.UnixEpoch, Capabilities = ["CAP_CHOWN", "CAP_NET_RAW"], Privileged = true, User = "1000:1000",
        GroupAdd = ["audio", "42"], Resources = new CgroupResources { Memory = 1 << 26 },
        Ulimits = [new Ulimit("nofile", 1024, 4096), new Ulimit("nproc", -1, -1)],
        Mounts =
        [
            new MountSpec { Type = MountType.Volume, Source = "data", Target = "/data", ReadOnly = true, Anonymous = true, NoCopy = true, Mode = "ro", Propagation = "rslave", HostPath = "/v/data/_data" },
            new MountSpec { Type = MountType.Tmpfs, Target = "/run", TmpfsFlags = 0x6, TmpfsData = "size=64k", FromTmpfsFlag = true },
            new MountSpec { Type = MountType.Bind, Source = "/srv", Target = "/srv", CreateMissingSource = true, HostPath = "/srv" },
        ],
        ReadOnlyRootfs = true, Init = true, UsernsMode = "auto:size=65536", UsernsSize = 65536,
    };

    [Fact]
    public void What_the_init_reads_comes_back_as_the_cli_wrote_it()
    {
        var written = Populated();
        var read = InitConfigReader.Read(JsonSerializer.SerializeToUtf8Bytes(written, RuntimeJson.Default.ContainerConfig));

        // Everything the init reads, compared as the serializer sees it; what it does not read stays at its default.
        var expected = JsonSerializer.SerializeToNode(written, RuntimeJson.Default.ContainerConfig)!.AsObject();
        var defaults = JsonSerializer.SerializeToNode(new ContainerConfig(), RuntimeJson.Default.ContainerConfig)!.AsObject();
        foreach (var name in InitConfigReader.NotForTheInit) expected[name] = defaults[name]?.DeepClone();
        var actual = JsonSerializer.SerializeToNode(read, RuntimeJson.Default.ContainerConfig)!;
        Assert.Equal(expected.ToJsonString(), actual.ToJsonString());
        Assert.True(read.OwnUserns);
    }

    [Fact]
    public void Every_property_of_the_nested_types_is_set_in_the_populated_config()
    {
        // So that a property added to MountSpec, DeviceMapping, SecurityConfig or Ulimit, and not read by the init, fails
        // the round trip above instead of passing at its default.
        var written = JsonSerializer.SerializeToNode(Populated(), RuntimeJson.Default.ContainerConfig)!;
        foreach (var (property, type, empty) in new (string, Type, object)[]
                 {
                     ("mounts", typeof(MountSpec), new MountSpec()), ("devices", typeof(DeviceMapping), new DeviceMapping()),
                     ("security", typeof(SecurityConfig), new SecurityConfig()), ("ulimits", typeof(Ulimit), new Ulimit("", 0, 0)),
                 })
        {
            var items = written[property] is System.Text.Json.Nodes.JsonArray array ? array.Select(n => n!).ToList() : [written[property]!];
            var defaults = JsonSerializer.SerializeToNode(empty, Info(type))!;
            foreach (var name in Names(type))
                Assert.True(items.Any(i => i[name]?.ToJsonString() != defaults[name]?.ToJsonString()), $"{type.Name}.{name} is not set in Populated()");
        }
    }

    [Fact]
    public void Nulls_and_unknown_properties_are_taken_as_the_serializer_takes_them()
    {
        var read = InitConfigReader.Read("""{"id":"x","user":null,"rootfsLowers":null,"capabilities":null,"future":{"a":[1,{"b":2}]},"args":["true"]}"""u8);
        Assert.Equal("x", read.Id);
        Assert.Null(read.User);
        Assert.Null(read.RootfsLowers);
        Assert.Null(read.Capabilities);
        Assert.Equal(["true"], read.Args);
        Assert.Throws<JsonException>(() => InitConfigReader.Read("""{"mounts":[{"type":"Nfs"}]}"""u8));
        Assert.ThrowsAny<JsonException>(() => InitConfigReader.Read("""{"args":"#"""u8));
    }
}
