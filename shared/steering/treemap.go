package steering

// czChildren holds a tree node's children the way Traffic Router's
// NetworkNode does: in a java.util.TreeMap ordered by CidrAddress.compareTo,
// a red-black tree. Its shape is part of Traffic Router's answer: an IPv4
// client compares equal to every IPv6 network longer than /32 listed under
// "network" that shares its 32 bits, and TreeMap.get returns the first of
// them on its search path. So the tree is balanced as the textbook
// red-black tree TreeMap implements (Cormen et al.; deletion takes the
// successor's entry), with the same puts and removes in the same order.
//
// Siblings never compare equal to one another, so their order is a total
// one; only a lookup key may compare equal to several.
type czChildren struct{ root *rbNode }

type rbNode struct {
	n                   *czNode
	left, right, parent *rbNode
	red                 bool
}

// get is TreeMap.get: the first entry on the search path comparing equal.
func (t *czChildren) get(key cidr) *czNode {
	if x := t.find(key); x != nil {
		return x.n
	}
	return nil
}

// find is TreeMap.getEntry: the first node on the search path comparing
// equal to key, or nil.
func (t *czChildren) find(key cidr) *rbNode {
	x := t.root
	for x != nil {
		c := key.compare(x.n.c)
		if c == 0 {
			break
		}
		if c < 0 {
			x = x.left
		} else {
			x = x.right
		}
	}
	return x
}

// overlapping lists, in order, the children comparing equal to c: the one
// containing it, the one with its prefix and length, or those it contains.
// They are adjacent in the order, so one search finds them all.
func (t *czChildren) overlapping(c cidr) []*czNode {
	x := t.find(c)
	if x == nil {
		return nil
	}
	first := x
	for p := predecessor(first); p != nil && c.compare(p.n.c) == 0; p = predecessor(p) {
		first = p
	}
	var out []*czNode
	for s := first; s != nil && c.compare(s.n.c) == 0; s = successor(s) {
		out = append(out, s.n)
	}
	return out
}

// each visits the children in order.
func (t *czChildren) each(fn func(*czNode)) {
	var walk func(x *rbNode)
	walk = func(x *rbNode) {
		if x == nil {
			return
		}
		walk(x.left)
		fn(x.n)
		walk(x.right)
	}
	walk(t.root)
}

// put is TreeMap.put: a key comparing equal keeps its place and takes n
// (equal keys have the same mask and bits under it, so the key may be n).
func (t *czChildren) put(n *czNode) {
	if t.root == nil {
		t.root = &rbNode{n: n}
		return
	}
	x := t.root
	for {
		c := n.c.compare(x.n.c)
		if c == 0 {
			x.n = n
			return
		}
		next := &x.right
		if c < 0 {
			next = &x.left
		}
		if *next == nil {
			*next = &rbNode{n: n, parent: x, red: true}
			t.fixAfterInsert(*next)
			return
		}
		x = *next
	}
}

// remove is TreeMap.remove of the child comparing equal to c.
func (t *czChildren) remove(c cidr) {
	p := t.find(c)
	if p == nil {
		return
	}
	if p.left != nil && p.right != nil {
		s := successor(p)
		p.n = s.n
		p = s
	}
	repl := p.left
	if repl == nil {
		repl = p.right
	}
	switch {
	case repl != nil:
		repl.parent = p.parent
		t.replaceChild(p, repl)
		p.left, p.right, p.parent = nil, nil, nil
		if !p.red {
			t.fixAfterDelete(repl)
		}
	case p.parent == nil:
		t.root = nil
	default:
		if !p.red {
			t.fixAfterDelete(p)
		}
		if p.parent != nil {
			if p == p.parent.left {
				p.parent.left = nil
			} else if p == p.parent.right {
				p.parent.right = nil
			}
			p.parent = nil
		}
	}
}

func successor(x *rbNode) *rbNode {
	if x.right != nil {
		x = x.right
		for x.left != nil {
			x = x.left
		}
		return x
	}
	p := x.parent
	for p != nil && x == p.right {
		x, p = p, p.parent
	}
	return p
}

func predecessor(x *rbNode) *rbNode {
	if x.left != nil {
		x = x.left
		for x.right != nil {
			x = x.right
		}
		return x
	}
	p := x.parent
	for p != nil && x == p.left {
		x, p = p, p.parent
	}
	return p
}

// replaceChild puts y where x hangs from its parent (or at the root).
func (t *czChildren) replaceChild(x, y *rbNode) {
	switch {
	case x.parent == nil:
		t.root = y
	case x == x.parent.left:
		x.parent.left = y
	default:
		x.parent.right = y
	}
}

func (t *czChildren) rotateLeft(x *rbNode) {
	y := x.right
	x.right = y.left
	if y.left != nil {
		y.left.parent = x
	}
	y.parent = x.parent
	t.replaceChild(x, y)
	y.left, x.parent = x, y
}

func (t *czChildren) rotateRight(x *rbNode) {
	y := x.left
	x.left = y.right
	if y.right != nil {
		y.right.parent = x
	}
	y.parent = x.parent
	t.replaceChild(x, y)
	y.right, x.parent = x, y
}

// Missing nodes are black; these read through nil.
func isRed(x *rbNode) bool { return x != nil && x.red }

func parentOf(x *rbNode) *rbNode {
	if x == nil {
		return nil
	}
	return x.parent
}

func leftOf(x *rbNode) *rbNode {
	if x == nil {
		return nil
	}
	return x.left
}

func rightOf(x *rbNode) *rbNode {
	if x == nil {
		return nil
	}
	return x.right
}

func setRed(x *rbNode, red bool) {
	if x != nil {
		x.red = red
	}
}

func (t *czChildren) fixAfterInsert(x *rbNode) {
	for x != nil && x != t.root && x.parent.red {
		g := parentOf(parentOf(x))
		if parentOf(x) == leftOf(g) {
			uncle := rightOf(g)
			if isRed(uncle) {
				setRed(parentOf(x), false)
				setRed(uncle, false)
				setRed(g, true)
				x = g
				continue
			}
			if x == rightOf(parentOf(x)) {
				x = parentOf(x)
				t.rotateLeft(x)
			}
			setRed(parentOf(x), false)
			setRed(parentOf(parentOf(x)), true)
			if g := parentOf(parentOf(x)); g != nil {
				t.rotateRight(g)
			}
		} else {
			uncle := leftOf(g)
			if isRed(uncle) {
				setRed(parentOf(x), false)
				setRed(uncle, false)
				setRed(g, true)
				x = g
				continue
			}
			if x == leftOf(parentOf(x)) {
				x = parentOf(x)
				t.rotateRight(x)
			}
			setRed(parentOf(x), false)
			setRed(parentOf(parentOf(x)), true)
			if g := parentOf(parentOf(x)); g != nil {
				t.rotateLeft(g)
			}
		}
	}
	t.root.red = false
}

func (t *czChildren) fixAfterDelete(x *rbNode) {
	for x != t.root && !isRed(x) {
		if x == leftOf(parentOf(x)) {
			sib := rightOf(parentOf(x))
			if isRed(sib) {
				setRed(sib, false)
				setRed(parentOf(x), true)
				t.rotateLeft(parentOf(x))
				sib = rightOf(parentOf(x))
			}
			if !isRed(leftOf(sib)) && !isRed(rightOf(sib)) {
				setRed(sib, true)
				x = parentOf(x)
				continue
			}
			if !isRed(rightOf(sib)) {
				setRed(leftOf(sib), false)
				setRed(sib, true)
				t.rotateRight(sib)
				sib = rightOf(parentOf(x))
			}
			setRed(sib, isRed(parentOf(x)))
			setRed(parentOf(x), false)
			setRed(rightOf(sib), false)
			t.rotateLeft(parentOf(x))
			x = t.root
		} else {
			sib := leftOf(parentOf(x))
			if isRed(sib) {
				setRed(sib, false)
				setRed(parentOf(x), true)
				t.rotateRight(parentOf(x))
				sib = leftOf(parentOf(x))
			}
			if !isRed(rightOf(sib)) && !isRed(leftOf(sib)) {
				setRed(sib, true)
				x = parentOf(x)
				continue
			}
			if !isRed(leftOf(sib)) {
				setRed(rightOf(sib), false)
				setRed(sib, true)
				t.rotateLeft(sib)
				sib = leftOf(parentOf(x))
			}
			setRed(sib, isRed(parentOf(x)))
			setRed(parentOf(x), false)
			setRed(leftOf(sib), false)
			t.rotateRight(parentOf(x))
			x = t.root
		}
	}
	setRed(x, false)
}
