using System.Net;
using System.Security.Cryptography;
using MiniDocker.Linux;

namespace MiniDocker.Images.Registry;

/// <summary>
/// A layer blob as the registry sends it, read once and in order by the extractor (no copy on disk): every byte is
/// counted and hashed, and reaching the declared size checks the digest over the whole blob, so a tampered or
/// truncated blob fails before its layer is placed. A connection cut or stalled mid-blob is picked up with a Range
/// request from the byte reached (a registry that ignores Range resends from 0 and the bytes already had are skipped).
/// </summary>
/// <remarks>
/// Resuming is within one pull only. A pull killed mid-layer keeps no partial blob: the layer streams straight into its
/// extraction directory, so a part would mean keeping the compressed bytes as well (a temporary tarball, twice the
/// writes on every pull to save a re-download only after a kill). A killed pull's finished layers are kept (placed
/// whole, verified), so the next pull fetches again only the layers that were in flight: whole-layer granularity.
/// </remarks>
internal sealed class BlobStream : Stream
{
    private readonly Descriptor _blob;
    private readonly Func<long, Task<HttpResponseMessage>> _open;
    private readonly RegistryConfig _config;
    private readonly Action<long> _progress;
    private readonly CancellationToken _cancel;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly bool _failPoints = Environment.GetEnvironmentVariable(FailPoint.Variable) is not null;
    private HttpResponseMessage? _response;
    private Stream? _body;
    private long _position;
    private int _failures;
    private bool _verified;

    public BlobStream(Descriptor blob, Func<long, Task<HttpResponseMessage>> open, RegistryConfig config, Action<long> progress,
        CancellationToken cancel)
    {
        _blob = blob;
        _open = open;
        _config = config;
        _progress = progress;
        _cancel = cancel;
    }

    /// <summary>Range requests made to continue a cut download (for the tests' and the curious' eyes).</summary>
    public int Resumes { get; private set; }

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (count == 0)
            return 0;
        while (true)
        {
            _cancel.ThrowIfCancellationRequested();
            if (_position == _blob.Size)
            {
                Verify();
                return 0;
            }
            try
            {
                _body ??= Open();
                var want = (int)Math.Min(count, _blob.Size - _position);
                var n = ReadWithTimeout(_body, buffer.AsMemory(offset, want));
                if (n == 0)
                    throw new IOException($"the connection closed after {_position} of {_blob.Size} bytes");
                _hash.AppendData(buffer, offset, n);
                _position += n;
                _progress(_position);
                if (_failPoints && _position < _blob.Size)
                    FailPoint.Check("pull.blob-partial");
                return n;
            }
            catch (Exception e) when (RegistryClient.IsTransient(e) && !_cancel.IsCancellationRequested)
            {
                CloseBody();
                if (++_failures >= _config.Attempts)
                    throw new ImageException($"blob {_blob.Digest}: {RegistryClient.Describe(e)} (after {_failures} attempts)", e);
                Thread.Sleep(RegistryClient.Backoff(_failures));
            }
        }
    }

    public override int Read(Span<byte> buffer)
    {
        var chunk = new byte[Math.Min(buffer.Length, 1 << 16)];
        var n = Read(chunk, 0, chunk.Length);
        chunk.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    private Stream Open()
    {
        var from = _position;
        _response = _open(from).GetAwaiter().GetResult();
        var body = _response.Content.ReadAsStream(_cancel);
        if (from == 0)
            return body;
        Resumes++;
        if (_response.StatusCode == HttpStatusCode.PartialContent)
        {
            if (_response.Content.Headers.ContentRange?.From is { } start && start != from)
                throw new ImageException($"blob {_blob.Digest}: asked the registry for bytes from {from}, it sent from {start}");
            return body;
        }
        // The registry ignored the range and sends the whole blob again: skip what was already hashed.
        var skip = new byte[1 << 16];
        for (var left = from; left > 0;)
        {
            var n = ReadWithTimeout(body, skip.AsMemory(0, (int)Math.Min(skip.Length, left)));
            if (n == 0)
                throw new IOException($"the connection closed after {from - left} of {from} bytes being skipped");
            left -= n;
        }
        return body;
    }

    private int ReadWithTimeout(Stream body, Memory<byte> buffer)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(_cancel);
        idle.CancelAfter(TimeSpan.FromSeconds(_config.TimeoutSeconds));
        try
        {
            return body.ReadAsync(buffer, idle.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested && !_cancel.IsCancellationRequested)
        {
            throw new TimeoutException($"no data from the registry for {_config.TimeoutSeconds}s");
        }
    }

    private void Verify()
    {
        if (_verified)
            return;
        var digest = "sha256:" + Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (digest != _blob.Digest)
            throw new ImageException($"blob {_blob.Digest}: digest mismatch (received content with digest {digest}); nothing was stored");
        _verified = true;
        CloseBody();
        FailPoint.Check("pull.blob-downloaded");
    }

    private void CloseBody()
    {
        _body?.Dispose();
        _body = null;
        _response?.Dispose();
        _response = null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            CloseBody();
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => _blob.Size;
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
