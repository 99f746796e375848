using System.Formats.Tar;
using MiniDocker.Images.Archive;

namespace MiniDocker.Images.Tests;

/// <summary>A layer directory in overlay's form tars back into OCI whiteouts, and nothing in it is followed.</summary>
public sealed class LayerTarWriterTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose() => _sandbox.Dispose();

    private static List<TarEntry> Entries(byte[] tar)
    {
        using var reader = new TarReader(new MemoryStream(tar));
        var entries = new List<TarEntry>();
        while (reader.GetNextEntry(copyData: true) is { } entry)
            entries.Add(entry);
        return entries;
    }

    [Fact]
    public void Overlay_whiteouts_become_wh_entries_again()
    {
        var layer = new TarBuilder().Directory("data").File("data/keep", "k").File("data/.wh.gone", "")
            .Directory("opq").File("opq/.wh..wh..opq", "").File("opq/new", "n").Build();
        var dir = _sandbox["layer"];
        SafeTarExtractor.Extract(new MemoryStream(layer), dir, overlayWhiteouts: true);

        var output = new MemoryStream();
        LayerTarWriter.Write(dir, output);
        var names = Entries(output.ToArray()).Select(e => e.Name).ToList();
        Assert.Equal(["data/", "data/.wh.gone", "data/keep", "opq/", "opq/.wh..wh..opq", "opq/new"], names);

        // And extracting the result gives the same overlay form.
        var again = _sandbox["again"];
        SafeTarExtractor.Extract(new MemoryStream(output.ToArray()), again, overlayWhiteouts: true);
        Assert.Equal("character special file 0,0", Run.Checked("stat", "-c", "%F %t,%T", Path.Combine(again, "data", "gone")).Trim());
    }

    [Fact]
    public void A_symlink_is_written_as_a_link_never_followed()
    {
        var dir = _sandbox.Dir("planted");
        File.CreateSymbolicLink(Path.Combine(dir, "shadow"), "/etc/shadow");
        Directory.CreateSymbolicLink(Path.Combine(dir, "etc"), "/etc");
        var output = new MemoryStream();
        LayerTarWriter.Write(dir, output);
        var entries = Entries(output.ToArray());
        Assert.Equal(2, entries.Count);
        Assert.All(entries, e => Assert.Equal(TarEntryType.SymbolicLink, e.EntryType));
        Assert.All(entries, e => Assert.Null(e.DataStream));
    }

    [Fact]
    public void The_merged_view_applies_whiteouts_and_opaque_directories_as_overlay_does()
    {
        var lower = _sandbox["lower"];
        SafeTarExtractor.Extract(new MemoryStream(new TarBuilder().Directory("a").File("a/x", "x").File("a/y", "y")
            .Directory("d").File("d/old", "o").File("top", "lower").Build()), lower, overlayWhiteouts: true);
        var upper = _sandbox["upper"];
        SafeTarExtractor.Extract(new MemoryStream(new TarBuilder().Directory("a").File("a/.wh.x", "")
            .Directory("d").File("d/.wh..wh..opq", "").File("d/new", "n").File("top", "upper").Build()), upper, overlayWhiteouts: true);

        var output = new MemoryStream();
        LayerTarWriter.WriteMerged([upper, lower], output);
        var entries = Entries(output.ToArray());
        Assert.Equal(["a/", "a/y", "d/", "d/new", "top"], entries.Select(e => e.Name));
        Assert.Equal("upper", new StreamReader(entries[^1].DataStream!).ReadToEnd());
    }
}
