using System.Security.Cryptography;

namespace MiniDocker.Images.Tests;

public sealed class CompressionTests : IDisposable
{
    private readonly Sandbox _sandbox = new();
    private readonly ImageStore _store;

    public CompressionTests() => _store = new ImageStore(_sandbox.Dir("state"));

    public void Dispose() => _sandbox.Dispose();

    private string PlainTar(out byte[] bytes)
    {
        bytes = new TarBuilder().File("etc/os-release", "NAME=test\n").Symlink("bin/sh", "busybox").Build();
        var path = _sandbox["plain.tar"];
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData("gzip", "image.tar", TarCompression.Gzip)]
    [InlineData("xz", "image.tar.gz", TarCompression.Xz)]
    [InlineData("bzip2", "image.tgz", TarCompression.Bzip2)]
    [InlineData("zstd", "image.tar.xz", TarCompression.Zstd)]
    [InlineData(null, "image.tar.zst", TarCompression.None)]
    public void EachFormatIsRecognisedByContentWhateverTheFileName(string? tool, string misleadingName, TarCompression expected)
    {
        var plain = PlainTar(out var bytes);
        var file = _sandbox[misleadingName];
        if (tool is null)
            File.Copy(plain, file);
        else
            Run.Compress(tool, plain, file);

        using (var stream = TarDecompressor.Open(file, out var detected))
            Assert.Equal(expected, detected);
        var image = _store.Import(file, "fmt-test", []);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), image.Id);
        var rootfs = _store.RootfsPath(image);
        Assert.Equal("NAME=test\n", File.ReadAllText(Path.Combine(rootfs, "etc/os-release")));
        Assert.Equal("busybox", new FileInfo(Path.Combine(rootfs, "bin/sh")).LinkTarget);
    }

    [Fact]
    public void ConcatenatedGzipMembersAreReadWhole()
    {
        // pigz and `cat a.gz b.gz` produce several gzip members; the tar spans them.
        PlainTar(out var bytes);
        var half = bytes.Length / 2;
        File.WriteAllBytes(_sandbox["part1"], bytes[..half]);
        File.WriteAllBytes(_sandbox["part2"], bytes[half..]);
        Run.Compress("gzip", _sandbox["part1"], _sandbox["part1.gz"]);
        Run.Compress("gzip", _sandbox["part2"], _sandbox["part2.gz"]);
        File.WriteAllBytes(_sandbox["multi.tar"],
            [.. File.ReadAllBytes(_sandbox["part1.gz"]), .. File.ReadAllBytes(_sandbox["part2.gz"])]);

        var image = _store.Import(_sandbox["multi.tar"], "multi", []);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), image.Id);
    }

    [Fact]
    public void AFileThatIsNoTarballIsRefused()
    {
        File.WriteAllText(_sandbox["notes.tar.gz"], "just some text, not an archive\n");

        var error = Assert.Throws<ImageException>(() => _store.Import(_sandbox["notes.tar.gz"], "x", []));

        Assert.Equal($"'{_sandbox["notes.tar.gz"]}' is not a tar archive (expected a plain tar, or a gzip, xz, bzip2 or zstd compressed tar)",
            error.Message);
    }

    [Fact]
    public void CompressedDataThatIsNoTarballIsRefused()
    {
        File.WriteAllText(_sandbox["text"], new string('z', 4000));
        Run.Compress("zstd", _sandbox["text"], _sandbox["text.tar"]);

        var error = Assert.Throws<ImageException>(() => _store.Import(_sandbox["text.tar"], "x", []));

        Assert.StartsWith($"'{_sandbox["text.tar"]}': not a valid tar archive:", error.Message);
    }

    private byte[] CompressedSample(string tool)
    {
        var random = new Random(1234);
        var content = string.Concat(Enumerable.Range(0, 20000).Select(_ => (char)('a' + random.Next(26))));
        File.WriteAllBytes(_sandbox["sample.tar"], new TarBuilder().File("data", content).Build());
        Run.Compress(tool, _sandbox["sample.tar"], _sandbox["sample.compressed"]);
        return File.ReadAllBytes(_sandbox["sample.compressed"]);
    }

    private void AssertStoreEmpty()
    {
        Assert.Empty(_store.List());
        Assert.DoesNotContain(Directory.GetFileSystemEntries(_sandbox["state/images"]),
            e => Path.GetFileName(e).StartsWith(".tmp-", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("xz")]
    [InlineData("bzip2")]
    [InlineData("zstd")]
    public void ChecksumOrFooterDamageIsReportedAsCorruptData(string tool)
    {
        // The last bytes hold each format's integrity check (gzip CRC32, xz footer, bzip2 stream CRC, zstd
        // checksum); they are verified only after the tar data has streamed through, so this also proves the
        // store reads the stream to its end before accepting it.
        var bytes = CompressedSample(tool);
        bytes[^8] ^= 0x01;
        File.WriteAllBytes(_sandbox["damaged.tar"], bytes);

        var error = Assert.Throws<ImageException>(() => _store.Import(_sandbox["damaged.tar"], "x", []));

        Assert.StartsWith($"'{_sandbox["damaged.tar"]}': corrupt {tool} data: ", error.Message);
        AssertStoreEmpty();
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("xz")]
    [InlineData("bzip2")]
    [InlineData("zstd")]
    public void DamageInsideTheStreamIsRefused(string tool)
    {
        var bytes = CompressedSample(tool);
        for (var i = bytes.Length / 3; i < bytes.Length / 3 + 64; i++)
            bytes[i] ^= 0x5A;
        File.WriteAllBytes(_sandbox["damaged.tar"], bytes);

        var error = Assert.Throws<ImageException>(() => _store.Import(_sandbox["damaged.tar"], "x", []));

        // Where the damage surfaces depends on the codec: its own check, or the tar headers it garbled first
        // (their checksums no longer match).
        Assert.Matches($"^'{_sandbox["damaged.tar"]}': (corrupt {tool} data|not a valid tar archive|the archive is truncated|the archive is damaged)",
            error.Message);
        AssertStoreEmpty();
    }

    [Fact]
    public void TruncatedGzipIsRefused()
    {
        // GZipStream reports a cut-short stream as a normal end; the tar layer must notice.
        var plain = _sandbox["big.tar"];
        var content = string.Concat(Enumerable.Range(0, 5000).Select(i => i.ToString()));
        File.WriteAllBytes(plain, new TarBuilder().File("data", content).File("more", content).Build());
        Run.Compress("gzip", plain, _sandbox["full.gz"]);
        var bytes = File.ReadAllBytes(_sandbox["full.gz"]);
        File.WriteAllBytes(_sandbox["cut.gz"], bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<ImageException>(() => _store.Import(_sandbox["cut.gz"], "x", []));

        Assert.StartsWith($"'{_sandbox["cut.gz"]}': the archive is truncated", error.Message);
    }
}
