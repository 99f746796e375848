using System.Text;

namespace MiniDocker.Cli.Templates;

/// <summary>The parse tree, as Go's text/template/parse has it. ToString gives Go's String() of a node: the context
/// an execution error names ("at &lt;.State.Nope&gt;").</summary>
internal abstract class Node(int pos)
{
    /// <summary>Index in the template text, as Go's Pos (the column an error reports).</summary>
    public int Pos { get; } = pos;

    public abstract override string ToString();
}

internal sealed class ListNode(int pos) : Node(pos)
{
    public List<Node> Nodes { get; } = new();
    public override string ToString() => string.Concat(Nodes.Select(n => n.ToString()));
}

internal sealed class TextNode(int pos, string text) : Node(pos)
{
    public string Text { get; } = text;
    public override string ToString() => Text;
}

internal sealed class ActionNode(int pos, PipeNode pipe) : Node(pos)
{
    public PipeNode Pipe { get; } = pipe;
    public override string ToString() => $"{{{{{Pipe}}}}}";
}

internal sealed class PipeNode(int pos) : Node(pos)
{
    public bool IsAssign { get; set; }
    public List<VariableNode> Decl { get; } = new();
    public List<CommandNode> Cmds { get; } = new();

    public override string ToString()
    {
        var sb = new StringBuilder();
        if (Decl.Count > 0)
            sb.Append(string.Join(", ", Decl.Select(d => d.ToString()))).Append(IsAssign ? " = " : " := ");
        sb.Append(string.Join(" | ", Cmds.Select(c => c.ToString())));
        return sb.ToString();
    }
}

internal sealed class CommandNode(int pos) : Node(pos)
{
    public List<Node> Args { get; } = new();
    public override string ToString() => string.Join(' ', Args.Select(a => a is PipeNode ? $"({a})" : a.ToString()));
}

/// <summary>.A.B: a path from dot.</summary>
internal sealed class FieldNode(int pos, string[] ident) : Node(pos)
{
    public string[] Ident { get; } = ident;
    public override string ToString() => string.Concat(Ident.Select(i => "." + i));
}

/// <summary>$x.A.B: Ident[0] is the variable ("$" or "$x"), the rest a path from it.</summary>
internal sealed class VariableNode(int pos, string[] ident) : Node(pos)
{
    public string[] Ident { get; } = ident;
    public override string ToString() => Ident[0] + string.Concat(Ident.Skip(1).Select(i => "." + i));
}

/// <summary>(pipeline).A.B</summary>
internal sealed class ChainNode(int pos, Node inner) : Node(pos)
{
    public Node Inner { get; } = inner;
    public List<string> Field { get; } = new();
    public override string ToString() =>
        (Inner is PipeNode ? $"({Inner})" : Inner.ToString()) + string.Concat(Field.Select(f => "." + f));
}

internal sealed class IdentifierNode(int pos, string name) : Node(pos)
{
    public string Name { get; } = name;
    public override string ToString() => Name;
}

internal sealed class DotNode(int pos) : Node(pos)
{
    public override string ToString() => ".";
}

internal sealed class NilNode(int pos) : Node(pos)
{
    public override string ToString() => "nil";
}

internal sealed class BoolNode(int pos, bool value) : Node(pos)
{
    public bool Value { get; } = value;
    public override string ToString() => Value ? "true" : "false";
}

/// <param name="Value">a long or a double, as Go's idealConstant makes of the literal</param>
internal sealed class NumberNode(int pos, string text, object value) : Node(pos)
{
    public string Text { get; } = text;
    public object Value { get; } = value;
    public override string ToString() => Text;
}

internal sealed class StringNode(int pos, string quoted, string text) : Node(pos)
{
    public string Quoted { get; } = quoted;
    public string Text { get; } = text;
    public override string ToString() => Quoted;
}

internal enum BranchKind { If, Range, With }

/// <summary>{{if}}, {{range}} and {{with}}: a pipeline, its list, and the {{else}} list.</summary>
internal sealed class BranchNode(int pos, BranchKind kind, PipeNode pipe, ListNode list, ListNode? elseList) : Node(pos)
{
    public BranchKind Kind { get; } = kind;
    public PipeNode Pipe { get; } = pipe;
    public ListNode List { get; } = list;
    public ListNode? Else { get; } = elseList;

    public override string ToString()
    {
        string name = Kind.ToString().ToLowerInvariant();
        return Else is null ? $"{{{{{name} {Pipe}}}}}{List}{{{{end}}}}" : $"{{{{{name} {Pipe}}}}}{List}{{{{else}}}}{Else}{{{{end}}}}";
    }
}

internal sealed class BreakNode(int pos) : Node(pos)
{
    public override string ToString() => "{{break}}";
}

internal sealed class ContinueNode(int pos) : Node(pos)
{
    public override string ToString() => "{{continue}}";
}

/// <summary>What ends an item list: {{end}} or {{else}} (never in the finished tree).</summary>
internal sealed class EndNode(int pos) : Node(pos)
{
    public override string ToString() => "{{end}}";
}

internal sealed class ElseNode(int pos) : Node(pos)
{
    public override string ToString() => "{{else}}";
}
