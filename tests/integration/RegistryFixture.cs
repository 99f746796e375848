using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// Debian's docker-registry on 127.0.0.1:FREEPORT with a temp storage directory, its access log kept for counting
/// requests, filled with `skopeo copy` from OCI layouts built here by hand.
/// </summary>
public sealed class LocalRegistry : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "mdk-reg-" + Guid.NewGuid().ToString("N")[..10]);
    public int Port { get; }
    public string Host => $"127.0.0.1:{Port}";
    public string Storage => Path.Combine(Dir, "storage");

    /// <summary>What a test asks of its registry: TLS with a CA of its own, and htpasswd or token authentication.</summary>
    public RegistryOptions Options { get; }

    /// <summary>With TLS: the certs.d directory (HOST:PORT/ca.crt) a root's daemon.json names as certs-dir.</summary>
    public string CertsDir => Path.Combine(Dir, "certs.d");

    /// <summary>With token authentication: the token issuer the registry trusts.</summary>
    public RegistryTokenIssuer? TokenIssuer { get; }

    public LocalRegistry() : this(new RegistryOptions())
    {
    }

    public LocalRegistry(RegistryOptions options)
    {
        Options = options;
        Directory.CreateDirectory(Storage);
        Port = HostPorts.Free();
        var config = Path.Combine(Dir, "config.yml");
        var extra = new StringBuilder();
        if (options.Tls)
        {
            var (cert, key) = TestCertificates.ServerFor(Dir, CertsDir, Host);
            extra.Append($"\n  tls:\n    certificate: {cert}\n    key: {key}");
        }
        if (options.Auth == RegistryAuthKind.Htpasswd)
        {
            var htpasswd = Path.Combine(Dir, "htpasswd");
            File.WriteAllText(htpasswd, $"{options.User}:{TestCertificates.Bcrypt(options.Password)}\n");
            extra.Append($"\nauth:\n  htpasswd:\n    realm: test-realm\n    path: {htpasswd}");
        }
        else if (options.Auth == RegistryAuthKind.Token)
        {
            TokenIssuer = new RegistryTokenIssuer(Dir, options.User, options.Password);
            extra.Append($"\nauth:\n  token:\n    realm: {TokenIssuer.Realm}\n    service: {RegistryTokenIssuer.Service}\n    issuer: {RegistryTokenIssuer.Issuer}\n    rootcertbundle: {TokenIssuer.CertificateFile}");
        }
        File.WriteAllText(config, $"""
            version: 0.1
            log:
              level: info
              accesslog:
                disabled: false
            storage:
              filesystem:
                rootdirectory: {Storage}
              delete:
                enabled: true
            http:
              addr: {Host}
            """ + extra + "\n");
        var psi = new ProcessStartInfo("docker-registry", ["serve", config])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        // Any HTTP answer means it serves (401 with authentication; the test CA is not trusted by this probe).
        using var probe = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true })
        { Timeout = TimeSpan.FromSeconds(3) };
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var answer = probe.GetAsync($"{Scheme}://{Host}/v2/").GetAwaiter().GetResult();
                return;
            }
            catch (Exception)
            {
                Thread.Sleep(100);
            }
        }
        throw new InvalidOperationException("docker-registry did not start: " + Log);
    }

    public string Log { get { lock (_log) return _log.ToString(); } }

    public string Scheme => Options.Tls ? "https" : "http";

    /// <summary>skopeo's flags for this registry as a source or destination ("src" or "dest").</summary>
    public string[] SkopeoFlags(string side) =>
        Options.Auth == RegistryAuthKind.None ? [$"--{side}-tls-verify=false"]
        : [$"--{side}-tls-verify=false", $"--{side}-creds={Options.User}:{Options.Password}"];

    /// <summary>GET requests for one blob in the access log.</summary>
    public int BlobGets(string digest)
    {
        // The access log comes through the registry's stderr pipe, read on another thread: a line can lag the response
        // the client already has (seen under load). Wait, bounded, until the count is non-zero and stops changing.
        int Count() => Log.Split('\n').Count(l => l.Contains("\"GET /v2/") && l.Contains($"/blobs/{digest} "));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        int last = Count();
        while (DateTime.UtcNow < deadline)
        {
            Thread.Sleep(250);
            int now = Count();
            if (now == last && now > 0) return now;
            last = now;
        }
        return last;
    }

    /// <summary>The registry's file holding a blob, for tampering.</summary>
    public string BlobFile(string digest) =>
        Path.Combine(Storage, "docker", "registry", "v2", "blobs", "sha256", digest[7..9], digest[7..], "data");

    public void Push(OciLayout layout, string name, string tag, bool all = false)
    {
        var args = new List<string> { "copy", "--preserve-digests" };
        args.AddRange(SkopeoFlags("dest"));
        if (all) args.Add("--all");
        args.AddRange([$"oci:{layout.Dir}:{tag}", $"docker://{Host}/{name}:{tag}"]);
        var psi = new ProcessStartInfo("skopeo", args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException("skopeo copy failed: " + err.Result);
    }

    public void Dispose()
    {
        try { _process.Kill(); _process.WaitForExit(5000); } catch (InvalidOperationException) { }
        _process.Dispose();
        TokenIssuer?.Dispose();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>A layer as a test builds it: the tar, its compression, and the digests a manifest and config name.</summary>
public sealed record TestLayer(byte[] Blob, string MediaType, string Digest, string DiffId);

/// <summary>An OCI image layout directory (oci-layout, index.json, blobs/sha256) written by hand.</summary>
public sealed class OciLayout : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "mdk-oci-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly JsonArray _manifests = [];

    public OciLayout()
    {
        Directory.CreateDirectory(Path.Combine(Dir, "blobs", "sha256"));
        File.WriteAllText(Path.Combine(Dir, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
    }

    public static string HostArchitecture => RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "arm64" : "amd64";

    public static string Digest(byte[] data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    public string AddBlob(byte[] data)
    {
        var digest = Digest(data);
        File.WriteAllBytes(Path.Combine(Dir, "blobs", "sha256", digest[7..]), data);
        return digest;
    }

    public static TestLayer Layer(byte[] tar, string compression = "none")
    {
        var (blob, type) = compression switch
        {
            "gzip" => (Gzip(tar), "application/vnd.oci.image.layer.v1.tar+gzip"),
            "zstd" => (Zstd(tar), "application/vnd.oci.image.layer.v1.tar+zstd"),
            _ => (tar, "application/vnd.oci.image.layer.v1.tar"),
        };
        return new TestLayer(blob, type, Digest(blob), Digest(tar));
    }

    /// <summary>A tar of (path, content) files; content null makes a directory; "-> target" content a symlink.</summary>
    public static byte[] Tar(params (string Path, string? Content)[] entries)
    {
        using var memory = new MemoryStream();
        using (var writer = new TarWriter(memory, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (path, content) in entries)
            {
                if (content is null)
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, path) { Mode = (UnixFileMode)0x1ED });
                else if (content.StartsWith("-> "))
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, path) { LinkName = content[3..] });
                else
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, path)
                    { Mode = (UnixFileMode)0x1A4, DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
            }
        }
        return memory.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(data);
        return memory.ToArray();
    }

    private static byte[] Zstd(byte[] data)
    {
        var psi = new ProcessStartInfo("zstd", ["-q", "-c", "-"]) { RedirectStandardInput = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var output = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(output);
        p.StandardInput.BaseStream.Write(data);
        p.StandardInput.Close();
        copy.Wait();
        p.WaitForExit();
        return output.ToArray();
    }

    /// <summary>Writes config and manifest for <paramref name="layers"/>; returns the manifest's descriptor.</summary>
    public JsonObject Image(IReadOnlyList<TestLayer> layers, string architecture, JsonObject? containerConfig = null)
    {
        foreach (var layer in layers) AddBlob(layer.Blob);
        var config = new JsonObject
        {
            ["architecture"] = architecture,
            ["os"] = "linux",
            ["created"] = "2026-01-01T00:00:00Z",
            ["config"] = containerConfig ?? new JsonObject { ["Cmd"] = new JsonArray("sh") },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(layers.Select(l => (JsonNode?)l.DiffId).ToArray()) },
            ["history"] = new JsonArray(layers.Select((_, i) => (JsonNode?)new JsonObject { ["created_by"] = $"test layer {i}" }).ToArray()),
        };
        var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = AddBlob(configBytes), ["size"] = configBytes.Length },
            ["layers"] = new JsonArray(layers.Select(l => (JsonNode?)new JsonObject
            { ["mediaType"] = l.MediaType, ["digest"] = l.Digest, ["size"] = l.Blob.Length }).ToArray()),
        };
        var manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        return new JsonObject
        {
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["digest"] = AddBlob(manifestBytes),
            ["size"] = manifestBytes.Length,
            ["platform"] = new JsonObject { ["architecture"] = architecture, ["os"] = "linux" },
        };
    }

    /// <summary>Names a manifest (or an index of several) by <paramref name="tag"/> in index.json.</summary>
    public void Tag(string tag, params JsonObject[] manifests)
    {
        JsonObject entry;
        if (manifests.Length == 1)
        {
            entry = (JsonObject)manifests[0].DeepClone();
        }
        else
        {
            var index = new JsonObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = "application/vnd.oci.image.index.v1+json",
                ["manifests"] = new JsonArray(manifests.Select(m => (JsonNode?)m.DeepClone()).ToArray()),
            };
            var bytes = Encoding.UTF8.GetBytes(index.ToJsonString());
            entry = new JsonObject { ["mediaType"] = "application/vnd.oci.image.index.v1+json", ["digest"] = AddBlob(bytes), ["size"] = bytes.Length };
        }
        entry["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag };
        _manifests.Add((JsonNode)entry);
        File.WriteAllText(Path.Combine(Dir, "index.json"),
            new JsonObject { ["schemaVersion"] = 2, ["manifests"] = _manifests.DeepClone() }.ToJsonString());
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
