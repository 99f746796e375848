using MiniDocker.Runtime.Cgroups;

namespace MiniDocker.Runtime.Tests;

/// <summary>
/// The cgroup v2 file contract (Documentation/admin-guide/cgroup-v2.rst) on a fake tree: which interface file gets
/// which value for Docker's flags, the controllers enabled on the way down, and the counters read back.
/// </summary>
public sealed class CgroupV2ResourcesTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mdk-v2-" + Guid.NewGuid().ToString("N")[..8]);
    private string Leaf => Path.Combine(_root, "minidocker", "scope", "id");

    private static readonly string[] InterfaceFiles =
        ["memory.max", "memory.swap.max", "memory.low", "cpu.max", "cpu.weight", "cpuset.cpus", "cpuset.mems", "pids.max"];

    public CgroupV2ResourcesTests()
    {
        foreach (var dir in new[] { _root, Path.Combine(_root, "minidocker"), Path.Combine(_root, "minidocker", "scope"), Leaf })
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
            File.WriteAllText(Path.Combine(dir, "cgroup.subtree_control"), "");
        }
        // What the kernel shows in a new cgroup.
        foreach (var (file, value) in new[] { ("memory.max", "max"), ("memory.swap.max", "max"), ("memory.low", "0"),
                     ("cpu.max", "max 100000"), ("cpu.weight", "100"), ("cpuset.cpus", ""), ("cpuset.mems", ""), ("pids.max", "max") })
            File.WriteAllText(Path.Combine(Leaf, file), value + "\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Value(string file) => File.ReadAllText(Path.Combine(Leaf, file));

    [Fact]
    public void Every_limit_goes_to_its_file_in_v2_units()
    {
        var r = ResourceLimits.Build(new ResourceRequest
        {
            Memory = "64m", MemorySwap = "96m", MemoryReservation = "32m", Cpus = "0.5", CpuShares = "512",
            CpusetCpus = "0", CpusetMems = "0", PidsLimit = "20",
        }, onlineCpus: 2);
        CgroupV2Resources.Apply(Leaf, r, update: false);
        Assert.Equal((64L << 20).ToString(), Value("memory.max"));
        Assert.Equal((32L << 20).ToString(), Value("memory.swap.max")); // memory+swap 96m = 64m memory + 32m swap
        Assert.Equal((32L << 20).ToString(), Value("memory.low"));
        Assert.Equal("50000 100000", Value("cpu.max"));
        Assert.Equal("20", Value("cpu.weight")); // runc: 1 + (512-2)*9999/262142
        Assert.Equal("0", Value("cpuset.cpus"));
        Assert.Equal("0", Value("cpuset.mems"));
        Assert.Equal("20", Value("pids.max"));
    }

    [Fact]
    public void A_container_without_limits_writes_nothing()
    {
        var before = InterfaceFiles.Select(Value).ToList();
        CgroupV2Resources.Apply(Leaf, new CgroupResources(), update: false);
        Assert.Equal(before, InterfaceFiles.Select(Value).ToList());
    }

    [Fact]
    public void An_update_sets_every_value_back_to_unlimited_when_unset()
    {
        CgroupV2Resources.Apply(Leaf, new CgroupResources { Memory = 1 << 26, MemorySwap = -1, NanoCpus = 1_000_000_000, PidsLimit = 5 }, update: false);
        Assert.Equal("max", Value("memory.swap.max"));
        Assert.Equal("100000 100000", Value("cpu.max"));
        CgroupV2Resources.Apply(Leaf, new CgroupResources(), update: true);
        Assert.Equal("max", Value("memory.max"));
        Assert.Equal("max 100000", Value("cpu.max"));
        Assert.Equal("100", Value("cpu.weight"));
        Assert.Equal("max", Value("pids.max"));
        Assert.Equal("0", Value("memory.low"));
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(1024, 39)]
    [InlineData(262144, 10000)]
    [InlineData(1, 1)] // below the v1 minimum: clamped to 2 first
    public void Shares_map_to_weight_as_runc_maps_them(long shares, long weight) => Assert.Equal(weight, CgroupV2Resources.SharesToWeight(shares));

    [Fact]
    public void Swap_is_converted_from_dockers_memory_plus_swap()
    {
        Assert.Equal("max", CgroupV2Resources.SwapMax(-1, 100));
        Assert.Null(CgroupV2Resources.SwapMax(0, 100));
        Assert.Equal("0", CgroupV2Resources.SwapMax(100, 100));
        Assert.Equal("50", CgroupV2Resources.SwapMax(150, 100));
        Assert.Throws<CgroupException>(() => CgroupV2Resources.SwapMax(150, 0));
        Assert.Throws<CgroupException>(() => CgroupV2Resources.SwapMax(50, 100));
    }

    [Fact]
    public void Controllers_are_enabled_in_every_ancestor_and_a_missing_one_that_a_limit_needs_is_refused()
    {
        CgroupV2Resources.EnableControllers(_root, Path.Combine(_root, "minidocker", "scope"), new CgroupResources());
        // A fake file keeps the last write; the kernel would accumulate "+cpuset", "+cpu"... into one list.
        foreach (var dir in new[] { _root, Path.Combine(_root, "minidocker"), Path.Combine(_root, "minidocker", "scope") })
            Assert.Equal("+pids", File.ReadAllText(Path.Combine(dir, "cgroup.subtree_control")));
        Assert.Equal("", File.ReadAllText(Path.Combine(Leaf, "cgroup.subtree_control")));

        File.WriteAllText(Path.Combine(_root, "minidocker", "cgroup.controllers"), "cpu io memory\n");
        File.WriteAllText(Path.Combine(_root, "minidocker", "cgroup.subtree_control"), "cpu io memory\n");
        CgroupV2Resources.EnableControllers(_root, Path.Combine(_root, "minidocker"), new CgroupResources()); // pids not needed
        var e = Assert.Throws<CgroupException>(() =>
            CgroupV2Resources.EnableControllers(_root, Path.Combine(_root, "minidocker"), new CgroupResources { PidsLimit = 10 }));
        Assert.Contains("the pids cgroup controller is not available", e.Message);
    }

    [Fact]
    public void Stats_and_the_oom_kill_counter_are_read_from_the_documented_files()
    {
        File.WriteAllText(Path.Combine(Leaf, "memory.current"), "10485760\n");
        File.WriteAllText(Path.Combine(Leaf, "memory.stat"), "anon 8388608\nfile 2097152\ninactive_file 1048576\n");
        File.WriteAllText(Path.Combine(Leaf, "memory.max"), "67108864\n");
        File.WriteAllText(Path.Combine(Leaf, "cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 3\nthrottled_usec 7\n");
        File.WriteAllText(Path.Combine(Leaf, "pids.current"), "4\n");
        File.WriteAllText(Path.Combine(Leaf, "io.stat"), "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n");
        File.WriteAllText(Path.Combine(Leaf, "memory.events"), "low 0\nhigh 0\nmax 5\noom 1\noom_kill 0\n");
        var s = CgroupV2Resources.Stats(Leaf)!;
        Assert.Equal(new CgroupStats(1_500_000, 9437184, 67108864, 4, 0, 4097, 8194, 3), s);
        Assert.False(CgroupV2Resources.OomKilled(Leaf));
        File.WriteAllText(Path.Combine(Leaf, "memory.events"), "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n");
        Assert.True(CgroupV2Resources.OomKilled(Leaf));
        Assert.Null(CgroupV2Resources.Stats(Path.Combine(_root, "gone")));
    }

    [Fact]
    public void A_file_the_kernel_does_not_have_is_an_error_not_created()
    {
        File.Delete(Path.Combine(Leaf, "pids.max"));
        Assert.Throws<CgroupException>(() => CgroupV2Resources.Apply(Leaf, new CgroupResources { PidsLimit = 3 }, update: false));
        Assert.False(File.Exists(Path.Combine(Leaf, "pids.max")));
    }
}
