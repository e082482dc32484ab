package card

// OnClose runs f after the card's connection is closed by Close, so whoever
// opened the card can release what it opened for it (the agent's PC/SC
// context). Hooks run in the order they were added.
func (c *Card) OnClose(f func()) {
	prev := c.closer
	c.closer = func() error {
		var err error
		if prev != nil {
			err = prev()
		}
		f()
		return err
	}
}
