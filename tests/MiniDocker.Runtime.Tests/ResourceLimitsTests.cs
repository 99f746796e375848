using MiniDocker.Runtime.Cgroups;

namespace MiniDocker.Runtime.Tests;

/// <summary>Docker's parsing and checks of -m, --memory-swap, --cpus, --cpuset-*, --pids-limit and --ulimit.</summary>
public sealed class ResourceLimitsTests
{
    [Theory]
    [InlineData("512", 512)]
    [InlineData("512b", 512)]
    [InlineData("64k", 64 * 1024)]
    [InlineData("64K", 64 * 1024)]
    [InlineData("16m", 16L << 20)]
    [InlineData("16MB", 16L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("1.5g", 3L << 29)]
    public void Sizes_are_dockers_binary_units(string text, long bytes) => Assert.Equal(bytes, ResourceLimits.ParseMemory(text, "-m, --memory"));

    [Theory]
    [InlineData("")]
    [InlineData("12x")]
    [InlineData("-5m")]
    [InlineData("m")]
    [InlineData("1e9")]
    [InlineData("99999999999999999999p")]
    public void A_bad_size_is_one_line_with_exit_status_125(string text)
    {
        var e = Assert.Throws<ContainerException>(() => ResourceLimits.ParseMemory(text, "-m, --memory"));
        Assert.Equal(125, e.ExitCode);
        Assert.Equal($"invalid argument \"{text}\" for \"-m, --memory\" flag: invalid size: '{text}'", e.Message);
    }

    [Theory]
    [InlineData("0.5", 500_000_000)]
    [InlineData("1", 1_000_000_000)]
    [InlineData("1.25", 1_250_000_000)]
    [InlineData("0.01", 10_000_000)]
    public void Cpus_become_nano_cpus(string text, long nano) => Assert.Equal(nano, ResourceLimits.ParseCpus(text));

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1,5")]
    public void Bad_cpus_are_refused(string text) =>
        Assert.Contains("failed to parse", Assert.Throws<ContainerException>(() => ResourceLimits.ParseCpus(text)).Message);

    [Fact]
    public void Cpus_beyond_the_host_or_below_a_hundredth_are_refused()
    {
        Assert.Equal("Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
            Assert.Throws<ContainerException>(() => ResourceLimits.Build(new ResourceRequest { Cpus = "3" }, onlineCpus: 2)).Message);
        Assert.Throws<ContainerException>(() => ResourceLimits.Build(new ResourceRequest { Cpus = "0.001" }, onlineCpus: 2));
        Assert.Equal(100_000 / 2, ResourceLimits.Build(new ResourceRequest { Cpus = "0.5" }, onlineCpus: 2).CpuQuotaMicros);
    }

    [Fact]
    public void Memory_rules_are_dockers()
    {
        var r = ResourceLimits.Build(new ResourceRequest { Memory = "32m" });
        Assert.Equal(32L << 20, r.Memory);
        Assert.Equal(64L << 20, r.MemorySwap); // Docker's default: as much swap again
        Assert.Equal(-1, ResourceLimits.Build(new ResourceRequest { Memory = "32m", MemorySwap = "-1" }).MemorySwap);
        Assert.Equal("Minimum memory limit allowed is 6MB",
            Assert.Throws<ContainerException>(() => ResourceLimits.Build(new ResourceRequest { Memory = "4m" })).Message);
        Assert.Equal("You should always set the Memory limit when using Memoryswap limit, see usage",
            Assert.Throws<ContainerException>(() => ResourceLimits.Build(new ResourceRequest { MemorySwap = "64m" })).Message);
        Assert.Equal("Minimum memoryswap limit should be larger than memory limit, see usage",
            Assert.Throws<ContainerException>(() => ResourceLimits.Build(new ResourceRequest { Memory = "64m", MemorySwap = "32m" })).Message);
        Assert.Equal("Minimum memory limit can not be less than memory reservation limit, see usage",
            Assert.Throws<ContainerException>(() => ResourceLimits.Build(new ResourceRequest { Memory = "16m", MemoryReservation = "32m" })).Message);
    }

    [Fact]
    public void An_update_keeps_what_is_not_given_and_checks_the_result()
    {
        var current = ResourceLimits.Build(new ResourceRequest { Memory = "32m", PidsLimit = "50", Cpus = "0.5" }, onlineCpus: 2);
        var updated = ResourceLimits.Build(new ResourceRequest { Memory = "48m" }, current, onlineCpus: 2);
        Assert.Equal(48L << 20, updated.Memory);
        Assert.Equal(64L << 20, updated.MemorySwap);
        Assert.Equal(50, updated.PidsLimit);
        Assert.Equal(500_000_000, updated.NanoCpus);
        // Above the stored memory+swap without a new one: Docker's message.
        Assert.Equal("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
            Assert.Throws<ContainerException>(() => ResourceLimits.Build(new ResourceRequest { Memory = "128m" }, current, 2)).Message);
        Assert.Null(ResourceLimits.Build(new ResourceRequest { PidsLimit = "-1" }, current, 2).PidsLimit);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0-1")]
    [InlineData("0,1")]
    [InlineData("0-1,3")]
    public void Cpuset_lists_parse(string text) => Assert.Equal(text, ResourceLimits.ParseCpuset(text, "cpus"));

    [Theory]
    [InlineData("a")]
    [InlineData("1-0")]
    [InlineData("0,,1")]
    [InlineData("-1")]
    [InlineData("0-")]
    public void Bad_cpuset_lists_are_refused(string text) =>
        Assert.Equal($"Invalid value {text} for cpuset cpus", Assert.Throws<ContainerException>(() => ResourceLimits.ParseCpuset(text, "cpus")).Message);

    [Fact]
    public void Cpus_not_on_the_host_are_refused()
    {
        var r = new CgroupResources { CpusetCpus = "0,3" };
        Assert.Equal("Requested CPUs are not available - requested 0,3, available: 0-1",
            Assert.Throws<ContainerException>(() => ResourceLimits.CheckAvailable(r, "0-1\n", "0\n")).Message);
        ResourceLimits.CheckAvailable(new CgroupResources { CpusetCpus = "1", CpusetMems = "0" }, "0-1\n", "0\n");
    }

    [Fact]
    public void Ulimits_are_dockers_names_and_forms()
    {
        Assert.Equal(new Ulimit("nofile", 512, 512), ResourceLimits.ParseUlimit("nofile=512"));
        Assert.Equal(new Ulimit("nproc", 100, 200), ResourceLimits.ParseUlimit("nproc=100:200"));
        Assert.Equal(new Ulimit("core", -1, -1), ResourceLimits.ParseUlimit("core=-1"));
        Assert.Equal([new Ulimit("nofile", 20, 20)], ResourceLimits.ParseUlimits(["nofile=10", "nofile=20"]));
        Assert.Equal(7, ResourceLimits.UlimitResources["nofile"]); // RLIMIT_NOFILE, asm-generic
    }

    [Theory]
    [InlineData("nofile", "invalid ulimit argument: nofile")]
    [InlineData("bogus=1", "invalid ulimit type: bogus")]
    [InlineData("nofile=abc", "invalid ulimit value: abc")]
    [InlineData("nofile=2:1", "ulimit soft limit must be less than or equal to hard limit: 2 > 1")]
    [InlineData("nofile=-1:10", "ulimit soft limit must be less than or equal to hard limit: -1 > 10")]
    [InlineData("nofile=1:2:3", "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`")]
    public void Bad_ulimits_are_refused(string text, string reason)
    {
        var e = Assert.Throws<ContainerException>(() => ResourceLimits.ParseUlimit(text));
        Assert.Equal($"invalid argument \"{text}\" for \"--ulimit\" flag: {reason}", e.Message);
        Assert.Equal(125, e.ExitCode);
    }

    [Fact]
    public void The_spec_carries_the_configs_limits()
    {
        var config = new ContainerConfig { Resources = new CgroupResources { Memory = 1 << 24, PidsLimit = 10 } };
        Assert.Equal(config.Resources, CgroupSpec.For(config).Limits);
        Assert.Equal(new CgroupResources(), new CgroupSpec([]).Limits);
    }
}
