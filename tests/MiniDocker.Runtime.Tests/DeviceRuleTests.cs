using MiniDocker.Runtime.Cgroups;

namespace MiniDocker.Runtime.Tests;

public sealed class DeviceRuleTests
{
    [Fact]
    public void Default_rules_are_dockers_and_written_as_cgroup_v1_takes_them()
    {
        var lines = DeviceRule.Defaults.Select(r => r.ToV1()).ToList();
        Assert.Equal(["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
            "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm"], lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("c 10:229", StringComparison.Ordinal)); // fuse: Docker denies it
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(259, 1048575)]
    [InlineData(4095, 255)]
    [InlineData(4096, 256)]
    public void Device_numbers_round_trip_through_dev_t(long major, long minor)
    {
        ulong dev = DeviceNumbers.Make(major, minor);
        Assert.Equal(major, DeviceNumbers.Major(dev));
        Assert.Equal(minor, DeviceNumbers.Minor(dev));
    }

    [Theory]
    [InlineData("/dev/null", "/dev/null", "rwm")]
    [InlineData("/dev/null:r", "/dev/null", "r")]
    [InlineData("/dev/null:/dev/n", "/dev/n", "rwm")]
    [InlineData("/dev/null:/dev/n:mw", "/dev/n", "mw")]
    public void Device_specs_parse_as_dockers(string spec, string inContainer, string permissions)
    {
        var d = DeviceNumbers.Parse(spec);
        Assert.Equal(("/dev/null", inContainer, permissions, "c", 1L, 3L), (d.PathOnHost, d.PathInContainer, d.Permissions, d.Type, d.Major, d.Minor));
    }

    [Theory]
    [InlineData("/dev/null:/dev/n:rr", "invalid device mode: rr")]
    [InlineData("/dev/null:/a:rw:x", "invalid device specification: /dev/null:/a:rw:x")]
    [InlineData("/etc/hostname", "not a device node")]
    public void Bad_device_specs_are_refused(string spec, string message)
    {
        Assert.Contains(message, Assert.Throws<ContainerException>(() => DeviceNumbers.Parse(spec)).Message);
    }
}
