using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using MiniDocker.Images.Layers;
using MiniDocker.Images.Registry;

namespace MiniDocker.Images.Tests;

/// <summary>A full disk ends a download at once (no retry) and frees its space; a layer expanding past max-layer-size
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

    [Fact]
    public async Task A_full_disk_is_not_retried_and_the_partial_file_is_removed()
    {
        // The blob is 4 MiB; the file system it is written to holds 256 KiB.
        var small = _sandbox.Dir("small");
        Run.Checked("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", small);
        var blob = RandomNumberGenerator.GetBytes(4 << 20);
        var digest = Sha(blob);
        var port = Random.Shared.Next(20000, 60000);
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var requests = 0;
        _ = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception)
                {
                    return;
                }
                Interlocked.Increment(ref requests);
                try
                {
                    context.Response.ContentLength64 = blob.Length;
                    await context.Response.OutputStream.WriteAsync(blob);
                    context.Response.Close();
                }
                catch (Exception)
                {
                    context.Response.Abort();
                }
            }
        });

        var config = new RegistryConfig { Attempts = 4, TimeoutSeconds = 10 };
        using var client = new RegistryClient(config, DistributionReference.Parse($"127.0.0.1:{port}/app"));
        var partial = Path.Combine(small, digest[7..] + ".partial");
        var error = await Assert.ThrowsAsync<ImageException>(() =>
            client.DownloadBlob(new Descriptor { Digest = digest, Size = blob.Length }, partial, _ => { }));

        Assert.Contains("No space left on device", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.False(File.Exists(partial));
        Assert.Equal(1, requests);
        listener.Stop();

        // With room, the same download succeeds (the check is on the error, not on the download).
        Run.Checked("mount", "-o", "remount,size=16m", small);
        using var listener2 = new HttpListener();
        listener2.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener2.Start();
        _ = Task.Run(async () =>
        {
            var context = await listener2.GetContextAsync();
            context.Response.ContentLength64 = blob.Length;
            await context.Response.OutputStream.WriteAsync(blob);
            context.Response.Close();
        });
        await client.DownloadBlob(new Descriptor { Digest = digest, Size = blob.Length }, partial, _ => { });
        Assert.Equal(digest, Sha(File.ReadAllBytes(partial)));
        listener2.Stop();
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
