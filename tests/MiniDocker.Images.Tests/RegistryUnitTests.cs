using MiniDocker.Images;
using MiniDocker.Images.Registry;

namespace MiniDocker.Images.Tests;

public sealed class DistributionReferenceTests
{
    [Theory]
    [InlineData("busybox", "docker.io", "library/busybox", "latest", null, "busybox:latest")]
    [InlineData("busybox:1.36", "docker.io", "library/busybox", "1.36", null, "busybox:1.36")]
    [InlineData("user/app", "docker.io", "user/app", "latest", null, "user/app:latest")]
    [InlineData("docker.io/library/busybox", "docker.io", "library/busybox", "latest", null, "busybox:latest")]
    [InlineData("index.docker.io/library/busybox:x", "docker.io", "library/busybox", "x", null, "busybox:x")]
    [InlineData("localhost:5000/app", "localhost:5000", "app", "latest", null, "localhost:5000/app:latest")]
    [InlineData("127.0.0.1:5000/a/b:v2", "127.0.0.1:5000", "a/b", "v2", null, "127.0.0.1:5000/a/b:v2")]
    [InlineData("localhost/app", "localhost", "app", "latest", null, "localhost/app:latest")]
    [InlineData("ghcr.io/o/r", "ghcr.io", "o/r", "latest", null, "ghcr.io/o/r:latest")]
    public void Normalizes_as_docker(string text, string domain, string path, string tag, string? digest, string familiar)
    {
        var r = DistributionReference.Parse(text);
        Assert.Equal((domain, path, tag, digest, familiar), (r.Domain, r.Path, r.TagOrLatest, r.Digest, r.Familiar));
    }

    [Fact]
    public void A_digest_pins_the_manifest()
    {
        var digest = "sha256:" + new string('a', 64);
        var r = DistributionReference.Parse($"busybox@{digest}");
        Assert.Equal(digest, r.ManifestReference);
        Assert.Null(r.Tag);
        Assert.Equal($"busybox@{digest}", r.Familiar);
        var tagged = DistributionReference.Parse($"localhost:5000/x:v1@{digest}");
        Assert.Equal(("localhost:5000", "v1", digest), (tagged.Domain, tagged.Tag, tagged.ManifestReference));
    }

    [Theory]
    [InlineData("Busybox")]
    [InlineData("busybox@sha256:abc")]
    [InlineData("busybox@md5:" + "00000000000000000000000000000000")]
    [InlineData("bad host:1/x")]
    [InlineData("busybox:")]
    [InlineData("a//b")]
    [InlineData("-x")]
    public void Refuses_invalid_references(string text) =>
        Assert.False(DistributionReference.TryParse(text, out _, out _));

    [Fact]
    public void Local_names_keep_their_familiar_form_so_imported_images_resolve_as_before()
    {
        Assert.Equal(new ImageReference("busybox", "latest"), ImageReference.Parse("busybox"));
        Assert.Equal(new ImageReference("busybox", "latest"), ImageReference.Parse("docker.io/library/busybox"));
        Assert.Equal(new ImageReference("localhost:5000/app", "v1"), ImageReference.Parse("localhost:5000/app:v1"));
    }
}

public sealed class PlatformMatcherTests
{
    private static Descriptor Entry(string arch, string? variant = null, string os = "linux") =>
        new() { Digest = $"{os}/{arch}/{variant}", Platform = new Platform { Os = os, Architecture = arch, Variant = variant } };

    [Fact]
    public void Picks_the_host_os_and_architecture()
    {
        var entries = new[] { Entry("arm", "v7"), Entry("amd64", os: "windows"), Entry("amd64"), Entry("arm64", "v8"), Entry("s390x") };
        Assert.Equal("linux/amd64/", PlatformMatcher.Select(entries, new Platform { Os = "linux", Architecture = "amd64" })!.Digest);
        Assert.Equal("linux/arm64/v8", PlatformMatcher.Select(entries, new Platform { Os = "linux", Architecture = "arm64", Variant = "v8" })!.Digest);
    }

    [Fact]
    public void Arm64_without_a_variant_matches_v8_and_none_matching_is_null()
    {
        var host = new Platform { Os = "linux", Architecture = "arm64", Variant = "v8" };
        Assert.Equal("linux/arm64/", PlatformMatcher.Select([Entry("amd64"), Entry("arm64")], host)!.Digest);
        Assert.Null(PlatformMatcher.Select([Entry("amd64"), Entry("arm", "v7")], host));
        // Attestation manifests carry platform unknown/unknown: never chosen.
        Assert.Null(PlatformMatcher.Select([Entry("unknown", os: "unknown")], new Platform { Os = "linux", Architecture = "amd64" }));
    }
}

public sealed class AuthChallengeTests
{
    [Fact]
    public void Parses_docker_hubs_bearer_challenge()
    {
        var c = AuthChallenge.Parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\"")!;
        Assert.Equal("Bearer", c.Scheme);
        Assert.Equal("https://auth.docker.io/token", c.Realm);
        Assert.Equal("registry.docker.io", c.Service);
        Assert.Equal("repository:library/busybox:pull", c.Scope);
    }

    [Fact]
    public void Parses_unquoted_values_escapes_and_commas_inside_quotes()
    {
        var c = AuthChallenge.Parse("Bearer realm=http://127.0.0.1:1/t, service=\"a,b\", scope=\"repository:x:pull,push\", error=\"say \\\"hi\\\"\"")!;
        Assert.Equal("http://127.0.0.1:1/t", c.Realm);
        Assert.Equal("a,b", c.Service);
        Assert.Equal("repository:x:pull,push", c.Scope);
        Assert.Equal("say \"hi\"", c.Parameters["error"]);
        Assert.Equal("Basic", AuthChallenge.Parse("Basic realm=\"Registry\"")!.Scheme);
    }
}
