using System.Text.Json;
using System.Text.Json.Nodes;
using MiniDocker.Cli.Templates;

namespace MiniDocker.Cli.Tests;

/// <summary>--format as Docker's CLI applies it to listings and inspect, and Docker's table alignment.</summary>
public class FormatOutputTests
{
    private static JsonObject Row(string id, string image, string command, string created, string status, string ports, string names) =>
        new()
        {
            ["Command"] = command, ["CreatedAt"] = "2024-05-01 12:00:00 +0000 UTC", ["ID"] = id, ["Image"] = image,
            ["Labels"] = "", ["LocalVolumes"] = "0", ["Mounts"] = "", ["Names"] = names, ["Networks"] = "bridge",
            ["Ports"] = ports, ["RunningFor"] = created, ["Size"] = "0B", ["State"] = "running", ["Status"] = status,
        };

    private static readonly JsonObject[] Rows =
    [
        Row("a1b2c3d4e5f6", "nginx", "\"/docker-entrypoint.…\"", "2 minutes ago", "Up 2 minutes", "0.0.0.0:8080->80/tcp", "web"),
        Row("0f9e8d7c6b5a", "busybox", "\"sleep 600\"", "About an hour ago", "Up About an hour", "", "db"),
    ];

    private static string List(string? format, params JsonObject[] rows) =>
        FormatOutput.RenderList(format, rows, DockerHeaders.ContainerTable, DockerHeaders.Container);

    [Fact]
    public void Empty_ps_prints_dockers_header_byte_for_byte()
    {
        // What `docker ps` prints on a host without containers.
        Assert.Equal("CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n", List(null));
        Assert.Equal(List(null), List("table"));
    }

    [Fact]
    public void Default_ps_table_is_aligned_as_dockers_tabwriter()
    {
        // Columns are as wide as their widest cell plus 3, at least 10; the last column is not padded.
        Assert.Equal(
            "CONTAINER ID   IMAGE     COMMAND                  CREATED             STATUS             PORTS                  NAMES\n" +
            "a1b2c3d4e5f6   nginx     \"/docker-entrypoint.…\"   2 minutes ago       Up 2 minutes       0.0.0.0:8080->80/tcp   web\n" +
            "0f9e8d7c6b5a   busybox   \"sleep 600\"              About an hour ago   Up About an hour                          db\n",
            List(null, Rows));
    }

    [Fact]
    public void A_table_template_gets_a_header_row_of_dockers_column_names()
    {
        // As typed in a shell: \t is two characters, which Docker turns into a tab.
        Assert.Equal("CONTAINER ID   NAMES\na1b2c3d4e5f6   web\n0f9e8d7c6b5a   db\n", List(@"table {{.ID}}\t{{.Names}}", Rows));
        Assert.Equal("NAMES     STATUS\nweb       Up 2 minutes\ndb        Up About an hour\n", List(@"table {{.Names}}\t{{.Status}}", Rows));
        Assert.Equal("CREATED AT" + new string(' ', 22) + "NETWORKS\n2024-05-01 12:00:00 +0000 UTC   bridge\n",
            List(@"table {{.CreatedAt}}\t{{.Networks}}", Rows[0]));
        // Functions that would change a column's name leave the header alone (Docker's header functions).
        Assert.Equal("NAMES     IMAGE\nWEB       nginx\n", List(@"table {{upper .Names}}\t{{lower .Image}}", Rows[0]));
        Assert.Equal("CONTAINER ID   NAMES\n", List(@"table {{.ID}}\t{{.Names}}"));
    }

    [Fact]
    public void A_plain_template_prints_one_line_per_object_and_keeps_tabs()
    {
        Assert.Equal("web\ndb\n", List("{{.Names}}", Rows));
        Assert.Equal("web\tUp 2 minutes\n", List(@"{{.Names}}\t{{.Status}}", Rows[0]));
        Assert.Equal("web: 0.0.0.0:8080->80/tcp\n", List("{{.Names}}: {{.Ports}}", Rows[0]));
        Assert.Equal("", List("{{.Names}}"));
        // Docker trims the spaces around a format.
        Assert.Equal("web\n", List("  {{.Names}}  ", Rows[0]));
    }

    [Fact]
    public void Json_prints_each_object_compact_on_its_own_line()
    {
        var lines = List("json", Rows).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("\"Names\":\"web\"", lines[0]);
        Assert.Equal("db", JsonDocument.Parse(lines[1]).RootElement.GetProperty("Names").GetString());
        Assert.Equal("{\"Names\":\"web\"}\n", List("{{json .}}", new JsonObject { ["Names"] = "web" }));
    }

    [Fact]
    public void An_unknown_field_is_one_line_on_stderr_exit_125_and_nothing_on_stdout()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = FormatOutput.List("{{.Names}} {{.Nope}}", Rows, DockerHeaders.ContainerTable, DockerHeaders.Container, stdout, stderr);
        Assert.Equal(125, rc);
        Assert.Equal("", stdout.ToString());
        Assert.Equal("minidocker: template parsing error: template: :1:13: executing \"\" at <.Nope>: map has no entry for key \"Nope\"\n",
            stderr.ToString());

        stderr = new StringWriter();
        Assert.Equal(125, FormatOutput.List("{{.Names", Rows, DockerHeaders.ContainerTable, DockerHeaders.Container, stdout, stderr));
        Assert.Equal("minidocker: template parsing error: template: :1: unclosed action\n", stderr.ToString());
    }

    private static readonly JsonNode[] Containers =
    [
        JsonNode.Parse("""{"Id":"abc","Name":"/web","State":{"Pid":42},"Config":{"Cmd":["sh","-c","x"],"Image":"busybox"}}""")!,
        JsonNode.Parse("""{"Id":"def","Name":"/db","State":{"Pid":0},"Config":{"Cmd":["true"],"Image":"busybox"}}""")!,
    ];

    [Fact]
    public void Inspect_without_a_format_is_an_indented_json_array()
    {
        string text = FormatOutput.RenderInspect(null, Containers);
        Assert.StartsWith("[\n    {\n        \"Id\": \"abc\",", text);
        Assert.EndsWith("]\n", text);
        Assert.Equal(2, JsonDocument.Parse(text).RootElement.GetArrayLength());
        Assert.Equal(text, FormatOutput.RenderInspect("json", Containers));
        Assert.Equal("[]\n", FormatOutput.RenderInspect(null, []));
    }

    [Fact]
    public void Inspect_with_a_template_renders_each_object_on_its_own_line()
    {
        Assert.Equal("42\n0\n", FormatOutput.RenderInspect("{{.State.Pid}}", Containers));
        Assert.Equal("/web [sh -c x]\n/db [true]\n", FormatOutput.RenderInspect("{{.Name}} {{.Config.Cmd}}", Containers));
        Assert.Equal("{\"Cmd\":[\"sh\",\"-c\",\"x\"],\"Image\":\"busybox\"}\n", FormatOutput.RenderInspect("{{json .Config}}", Containers[..1]));
        // Docker's inspect leaves a typed \t alone; a template string's "\t" is a tab.
        Assert.Equal("/web\\tabc\n", FormatOutput.RenderInspect(@"{{.Name}}\t{{.Id}}", Containers[..1]));
        Assert.Equal("/web\tabc\n", FormatOutput.RenderInspect("{{.Name}}{{\"\\t\"}}{{.Id}}", Containers[..1]));
    }

    [Fact]
    public void Inspect_errors_are_one_line_and_exit_125()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(125, FormatOutput.Inspect("{{.NetworkSettings.IPAddress}}", Containers, stdout, stderr));
        Assert.Equal("", stdout.ToString());
        Assert.Equal("minidocker: template parsing error: template: :1:18: executing \"\" at <.NetworkSettings.IPA...>: " +
            "map has no entry for key \"NetworkSettings\"\n", stderr.ToString());
    }
}

/// <summary>Go's text/tabwriter with Docker's settings.</summary>
public class TabWriterTests
{
    [Fact]
    public void Cells_are_padded_to_the_widest_plus_three_and_at_least_ten()
    {
        Assert.Equal("CONTAINER ID   NAMES\n4f1c2d3e4f5a   web\n", TabWriter.Align("CONTAINER ID\tNAMES\n4f1c2d3e4f5a\tweb\n"));
        Assert.Equal("a         b\n", TabWriter.Align("a\tb\n"));
        // Width counts characters, not bytes or UTF-16 units.
        Assert.Equal("é…        x\nab        y\n", TabWriter.Align("é…\tx\nab\ty\n"));
        // Text after the last tab is no column and keeps its trailing spaces; an empty last cell adds nothing.
        Assert.Equal("a         b  \n", TabWriter.Align("a\tb  \n"));
        Assert.Equal("a         \n", TabWriter.Align("a\t\n"));
    }

    [Fact]
    public void A_line_without_the_column_ends_its_block()
    {
        // As Go: the two tabbed lines are separate blocks, each column as wide as its own block needs.
        Assert.Equal("aaaaaaaaaaaaaaa   b\nno tabs\nc         d\n", TabWriter.Align("aaaaaaaaaaaaaaa\tb\nno tabs\nc\td\n"));
        Assert.Equal("a         b         c\nxxxxxxxxxxxxx\ny         z         w\n",
            TabWriter.Align("a\tb\tc\nxxxxxxxxxxxxx\ny\tz\tw\n"));
        // A line with fewer columns in the middle: the first column is one block over all three lines, the second
        // column two blocks (the middle line has no second column).
        Assert.Equal("a             b         c\nlonger cell   \nd             e         f\n",
            TabWriter.Align("a\tb\tc\nlonger cell\t\nd\te\tf\n"));
    }

    [Fact]
    public void Text_without_a_final_newline_is_kept()
    {
        Assert.Equal("a         b\nc", TabWriter.Align("a\tb\nc"));
        Assert.Equal("", TabWriter.Align(""));
    }
}
