namespace MiniDocker.Images.Tests;

/// <summary>OCI whiteouts in a layer become overlay's own form; in a flat import they stay skipped.</summary>
public sealed class LayerWhiteoutTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    private static byte[] Layer() => new TarBuilder()
        .Directory("data").File("data/.wh.gone", "").Directory("opq").File("opq/.wh..wh..opq", "").File("opq/new", "n")
        .File(".wh..wh.plnk", "").Build();

    [Fact]
    public void A_whiteout_is_a_0_0_character_device_and_an_opaque_marker_the_overlay_xattr()
    {
        var target = _sandbox["layer"];
        var result = SafeTarExtractor.Extract(new MemoryStream(Layer()), target, overlayWhiteouts: true);

        Assert.Equal("character special file 0,0", Run.Checked("stat", "-c", "%F %t,%T", Path.Combine(target, "data", "gone")).Trim());
        Assert.Contains("trusted.overlay.opaque=\"y\"", Run.Checked("getfattr", "-n", "trusted.overlay.opaque", Path.Combine(target, "opq")));
        Assert.Equal("n", File.ReadAllText(Path.Combine(target, "opq", "new")));
        Assert.False(File.Exists(Path.Combine(target, "opq", ".wh..wh..opq")));
        Assert.False(File.Exists(Path.Combine(target, ".wh..wh.plnk")));
        Assert.Equal(2, result.SkippedWhiteouts);
    }

    [Fact]
    public void A_flat_import_skips_whiteouts_as_before()
    {
        var target = _sandbox["flat"];
        SafeTarExtractor.Extract(new MemoryStream(Layer()), target);
        Assert.False(Path.Exists(Path.Combine(target, "data", "gone")));
        Assert.Equal("", Run.Checked("getfattr", "-d", "-m", "trusted.", Path.Combine(target, "opq")).Trim());
    }

    [Fact]
    public void A_whiteout_naming_nothing_or_a_parent_is_refused()
    {
        var error = Assert.Throws<ImageException>(() => SafeTarExtractor.Extract(
            new MemoryStream(new TarBuilder().File("a/.wh.", "").Build()), _sandbox["bad"], overlayWhiteouts: true));
        Assert.Contains("names no file", error.Message);
    }
}
