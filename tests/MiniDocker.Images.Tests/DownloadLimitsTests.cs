using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using MiniDocker.Images.Layers;
using MiniDocker.Images.Registry;

namespace MiniDocker.Images.Tests;

/// <summary>A full disk ends a pull's layer at once (no retry) and frees its space; a layer expanding past max-layer-size
/// (a gzip bomb) is refused with nothing stored.</summary>
public sealed class DownloadLimitsTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose()
    {
        Run.Capture("umount", "-l", _sandbox["small"]);
        _sandbox.Dispose();
    }

    private static string Sha(byte[] data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>Serves <paramref name="blob"/> whole for every request on a free loopback port; counts requests.</summary>
    private static (HttpListener Listener, int Port, Func<int> Requests) Serve(byte[] blob) =>
        LoopbackHttpServer.Serve(async (_, _, response) =>
        {
            response.ContentLength64 = blob.Length;
            await response.OutputStream.WriteAsync(blob);
            response.Close();
        });

    [Fact]
    public void A_full_disk_while_a_pulled_layer_streams_in_is_not_retried_and_leaves_nothing()
    {
        // The layer (uncompressed tar, so blob digest = diff id) is 4 MiB; the store's file system holds 256 KiB.
        var small = _sandbox.Dir("small");
        Run.Checked("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", small);
        var blob = new TarBuilder().File("big", Convert.ToBase64String(RandomNumberGenerator.GetBytes(3 << 20))).Build();
        var digest = Sha(blob);
        var descriptor = new Descriptor { Digest = digest, Size = blob.Length };
        var (listener, port, requests) = Serve(blob);
        using (listener)
        {
            // The streaming path pull takes (Puller.EnsureLayer): OpenBlob read straight into LayerStore.Add.
            var config = new RegistryConfig { Attempts = 4, TimeoutSeconds = 10 };
            using var client = new RegistryClient(config, DistributionReference.Parse($"127.0.0.1:{port}/app"));
            var store = new LayerStore(Path.Combine(small, "images"));
            var error = Assert.Throws<ImageException>(() =>
            {
                using var stream = client.OpenBlob(descriptor, _ => { }, CancellationToken.None);
                store.Add(stream, digest, digest);
            });

            Assert.StartsWith($"layer {digest}: ", error.Message);
            Assert.Contains("No space left on device", error.Message);
            Assert.DoesNotContain('\n', error.Message);
            Assert.Equal(1, requests()); // not retried: a retry would fill the disk again
            Assert.False(store.Has(digest));
            Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(Path.Combine(small, "images", "layers")).Select(Path.GetFileName),
                n => n is not (".locks" or ".gc.lock"));

            // With room, the same pull succeeds (the check is on the error, not on the download).
            Run.Checked("mount", "-o", "remount,size=16m", small);
            using (var stream = client.OpenBlob(descriptor, _ => { }, CancellationToken.None))
                store.Add(stream, digest, digest);
            Assert.True(store.Has(digest));
            Assert.Equal(2, requests());
        }
    }

    [Theory]
    [InlineData(28)]  // ENOSPC
    [InlineData(122)] // EDQUOT
    public void Disk_full_and_quota_errors_are_recognised(int errno)
    {
        Assert.True(DiskFull.Is(new IOException("x", errno)));
        Assert.False(DiskFull.Is(new IOException("x", 5))); // EIO stays transient
    }

    private (string Blob, string Digest, string DiffId) GzipBomb()
    {
        var tar = new TarBuilder().File("zeros", new string('\0', 8 << 20)).Build();
        var gz = new MemoryStream();
        using (var gzip = new GZipStream(gz, CompressionLevel.SmallestSize, leaveOpen: true))
            gzip.Write(tar);
        var blob = _sandbox["bomb.gz"];
        File.WriteAllBytes(blob, gz.ToArray());
        return (blob, Sha(gz.ToArray()), Sha(tar));
    }

    [Fact]
    public void A_layer_expanding_past_max_layer_size_is_refused_and_nothing_is_stored()
    {
        var (blob, digest, diffId) = GzipBomb();
        Assert.True(new FileInfo(blob).Length < 64 << 10);
        var store = new LayerStore(_sandbox.Dir("images"));

        var error = Assert.Throws<ImageException>(() => store.Add(blob, digest, diffId, maxUncompressedBytes: 1 << 20));
        Assert.Contains("max-layer-size", error.Message);
        Assert.False(store.Has(diffId));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(_sandbox["images/layers"]).Select(Path.GetFileName),
            n => n is not (".locks" or ".gc.lock"));

        // Raising the limit allows it.
        store.Add(blob, digest, diffId, maxUncompressedBytes: 16 << 20);
        Assert.True(store.Has(diffId));
    }

    [Fact]
    public void Max_layer_size_is_read_from_daemon_json_and_defaults_to_64_GiB()
    {
        Assert.Equal(64L << 30, new RegistryConfig().MaxLayerBytes);
        File.WriteAllText(_sandbox["daemon.json"], """{"max-layer-size": 1048576}""");
        Assert.Equal(1 << 20, RegistryConfig.Load(_sandbox.Path).MaxLayerBytes);
    }
}

/// <summary>A layer streamed into a store whose disk fills up: one line naming the layer, nothing half-made left.</summary>
public sealed class LayerStreamDiskFullTests : IDisposable
{
    private readonly Sandbox _sandbox = new();

    public void Dispose()
    {
        Run.Capture("umount", "-l", _sandbox["small"]);
        _sandbox.Dispose();
    }

    [Fact]
    public void A_full_disk_while_a_streamed_layer_is_extracted_is_one_line_and_leaves_no_temp_directory()
    {
        var small = _sandbox.Dir("small");
        Run.Checked("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", small);
        var tar = new TarBuilder().File("big", Convert.ToBase64String(RandomNumberGenerator.GetBytes(3 << 20))).Build();
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar));
        var store = new LayerStore(Path.Combine(small, "images"));

        using var stream = new MemoryStream(tar);
        var error = Assert.Throws<ImageException>(() => store.Add(stream, digest, digest));
        Assert.StartsWith($"layer {digest}: ", error.Message);
        Assert.Contains("No space left on device", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.False(store.Has(digest));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(Path.Combine(small, "images", "layers")).Select(Path.GetFileName),
            n => n is not (".locks" or ".gc.lock"));
    }
}
