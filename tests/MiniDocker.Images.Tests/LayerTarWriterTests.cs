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

    [Fact]
    public void A_userns_upper_directory_is_written_with_the_ids_the_container_saw()
    {
        // Host ids 200000.. are the container's 0..; 0 (host root) is outside its range: it saw 65534.
        var ids = new HostIdRange(200000, 300000, 65536);
        var upper = _sandbox.Dir("upper");
        Directory.CreateDirectory(Path.Combine(upper, "home"));
        File.WriteAllText(Path.Combine(upper, "home", "f"), "data");
        File.CreateSymbolicLink(Path.Combine(upper, "link"), "/etc/shadow");
        File.WriteAllText(Path.Combine(upper, "host-root"), "");
        Run.Checked("chown", "200000:300000", Path.Combine(upper, "home"));
        Run.Checked("chown", "201000:301000", Path.Combine(upper, "home", "f"));
        Run.Checked("chown", "-h", "200000:300000", Path.Combine(upper, "link"));
        Run.Checked("chmod", "4750", Path.Combine(upper, "home", "f"));

        var output = new MemoryStream();
        LayerTarWriter.Write(upper, output, ids: ids);
        var entries = Entries(output.ToArray()).ToDictionary(e => e.Name);
        Assert.Equal((0, 0), (entries["home/"].Uid, entries["home/"].Gid));
        Assert.Equal((1000, 1000), (entries["home/f"].Uid, entries["home/f"].Gid));
        Assert.Equal((UnixFileMode)Convert.ToInt32("4750", 8), entries["home/f"].Mode);
        Assert.Equal("data", new StreamReader(entries["home/f"].DataStream!).ReadToEnd());
        Assert.Equal((0, 0, "/etc/shadow"), (entries["link"].Uid, entries["link"].Gid, entries["link"].LinkName));
        Assert.Equal((HostIdRange.Overflow, HostIdRange.Overflow), (entries["host-root"].Uid, entries["host-root"].Gid));
        Assert.All(entries.Values, e => Assert.Equal("", ((PosixTarEntry)e).UserName));

        // The merged view (export) maps the top directory only: the image's layers below hold the image's own ids.
        var lower = _sandbox.Dir("lower");
        File.WriteAllText(Path.Combine(lower, "image-file"), "");
        Run.Checked("chown", "1000:1000", Path.Combine(lower, "image-file"));
        Directory.CreateDirectory(Path.Combine(lower, "home"));
        File.WriteAllText(Path.Combine(lower, "home", "lower-file"), "");
        output = new MemoryStream();
        LayerTarWriter.WriteMerged([upper, lower], output, ids);
        entries = Entries(output.ToArray()).ToDictionary(e => e.Name);
        Assert.Equal(1000, entries["image-file"].Uid);
        Assert.Equal(0, entries["home/lower-file"].Uid);
        Assert.Equal(1000, entries["home/f"].Uid);
        Assert.Equal(HostIdRange.Overflow, entries["host-root"].Uid);
    }
}
