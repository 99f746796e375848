using System.Net;
using System.Security.Cryptography;
using MiniDocker.Images.Registry;

namespace MiniDocker.Images.Tests;

/// <summary>
/// A layer blob read as a stream from an HTTP server on loopback that misbehaves: a cut connection is resumed (with a
/// Range request, or by skipping what a server ignoring Range sends again), and the digest is checked over the whole.
/// </summary>
public sealed class BlobStreamTests
{
    private static readonly byte[] Blob = RandomNumberGenerator.GetBytes(1 << 20);
    private static readonly string BlobDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Blob));

    private static (HttpListener Listener, int Port) Serve(Func<int, string?, HttpListenerResponse, Task> answer)
    {
        var (listener, port, _) = LoopbackHttpServer.Serve(answer);
        return (listener, port);
    }

    private static async Task SendHalfThenCut(HttpListenerResponse response)
    {
        response.ContentLength64 = Blob.Length;
        await response.OutputStream.WriteAsync(Blob.AsMemory(0, Blob.Length / 2));
        await response.OutputStream.FlushAsync();
        await Task.Delay(100);
        response.Abort();
    }

    private static byte[] ReadAll(int port, byte[]? declared = null)
    {
        var config = new RegistryConfig { Attempts = 3, TimeoutSeconds = 10 };
        using var client = new RegistryClient(config, DistributionReference.Parse($"127.0.0.1:{port}/app"));
        var descriptor = new Descriptor { Digest = BlobDigest, Size = (declared ?? Blob).Length };
        using var stream = client.OpenBlob(descriptor, _ => { }, CancellationToken.None);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    [Fact]
    public void A_cut_connection_is_resumed_with_a_range_request()
    {
        var ranges = new List<string?>();
        var (listener, port) = Serve(async (n, range, response) =>
        {
            lock (ranges) ranges.Add(range);
            if (n == 1)
            {
                await SendHalfThenCut(response);
                return;
            }
            var from = int.Parse(range!["bytes=".Length..^1]);
            response.StatusCode = 206;
            response.Headers["Content-Range"] = $"bytes {from}-{Blob.Length - 1}/{Blob.Length}";
            response.ContentLength64 = Blob.Length - from;
            await response.OutputStream.WriteAsync(Blob.AsMemory(from));
            response.Close();
        });
        using (listener)
            Assert.Equal(Blob, ReadAll(port));
        Assert.Equal(2, ranges.Count);
        Assert.Null(ranges[0]);
        Assert.Matches(@"^bytes=[1-9]\d*-$", ranges[1]);
    }

    [Fact]
    public void A_server_ignoring_range_sends_it_all_again_and_what_was_had_is_skipped()
    {
        var (listener, port) = Serve(async (n, range, response) =>
        {
            if (n == 1)
            {
                await SendHalfThenCut(response);
                return;
            }
            response.ContentLength64 = Blob.Length; // 200, the whole blob, whatever the Range said
            await response.OutputStream.WriteAsync(Blob);
            response.Close();
        });
        using (listener)
            Assert.Equal(Blob, ReadAll(port));
    }

    [Fact]
    public void Content_other_than_the_digest_names_fails_at_its_end_with_one_line()
    {
        var tampered = (byte[])Blob.Clone();
        tampered[^1] ^= 0xFF;
        var (listener, port) = Serve(async (_, _, response) =>
        {
            response.ContentLength64 = tampered.Length;
            await response.OutputStream.WriteAsync(tampered);
            response.Close();
        });
        using (listener)
        {
            var error = Assert.Throws<ImageException>(() => ReadAll(port));
            Assert.StartsWith($"blob {BlobDigest}: digest mismatch", error.Message);
            Assert.DoesNotContain('\n', error.Message);
        }
    }
}
