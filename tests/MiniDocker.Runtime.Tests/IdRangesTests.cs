using MiniDocker.Runtime.Userns;

namespace MiniDocker.Runtime.Tests;

/// <summary>--userns=auto's range arithmetic: /etc/subuid lines, and first fit around the ranges containers hold.</summary>
public sealed class IdRangesTests
{
    [Fact]
    public void Only_the_named_users_well_formed_lines_count()
    {
        var ranges = IdRanges.Parse("alice:100000:65536\nminidocker:165536:131072\n# note\nminidocker:x:5\nminidocker:300000:0\n minidocker:500000:10 \n", "minidocker");
        Assert.Equal([(165536L, 131072L), (500000L, 10L)], ranges);
    }

    [Fact]
    public void First_fit_skips_held_ranges_and_never_crosses_the_end()
    {
        (long, long)[] sub = [(100000, 65536 * 3)];
        Assert.Equal(100000, IdRanges.FirstFit(sub, [], 65536));
        Assert.Equal(165536, IdRanges.FirstFit(sub, [(100000, 65536)], 65536));
        // A hole too small for the request is skipped; one that fits exactly is taken.
        Assert.Equal(101500 + 65536, IdRanges.FirstFit(sub, [(100000, 1000), (101500, 65536)], 65536));
        Assert.Equal(101000, IdRanges.FirstFit(sub, [(100000, 1000), (101500, 65536)], 500));
        Assert.Null(IdRanges.FirstFit(sub, [(100000, 65536), (165536, 65536), (231072, 65536)], 1));
        Assert.Null(IdRanges.FirstFit(sub, [], 65536 * 3 + 1));
        // The next subordinate range when the first is full.
        Assert.Equal(900000, IdRanges.FirstFit([(100000, 10), (900000, 100)], [(100000, 10)], 50));
    }

    [Fact]
    public void The_option_takes_host_auto_and_a_size()
    {
        Assert.Equal((null, 0), UsernsOption.Parse(null, false, "bridge"));
        Assert.Equal(("host", 0), UsernsOption.Parse("host", true, "host"));
        Assert.Equal(("auto", 65536), UsernsOption.Parse("auto", false, "bridge"));
        Assert.Equal(("auto:size=1024", 1024), UsernsOption.Parse("auto:size=1024", false, "none"));
        foreach (var bad in new[] { "auto:size=0", "auto:size=-1", "auto:size=x", "keep-id", "AUTO" })
            Assert.Contains("invalid --userns", Assert.Throws<ContainerException>(() => UsernsOption.Parse(bad, false, "none")).Message);
        Assert.Throws<ContainerException>(() => UsernsOption.Parse("auto", true, "none"));
        Assert.Throws<ContainerException>(() => UsernsOption.Parse("auto", false, "host"));
    }
}
