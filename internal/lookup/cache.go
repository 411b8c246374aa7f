package lookup

import (
	"context"
	"sync"
)

// Cache holds the SQL results of one message, as amavis keeps them only
// while it processes a message: the same recipient looked up for forty
// settings costs one query. Create one per message (NewCache), attach it to
// the message's context with WithCache, and drop it with the message.
// Errors are never cached. Safe for concurrent use.
type Cache struct {
	mu   sync.Mutex
	rows map[cacheKey][]Row
	max  int
	hits int
}

type cacheKey struct {
	q    *Query
	addr string
}

// DefaultCacheEntries bounds a message's cache.
const DefaultCacheEntries = 4096

// NewCache returns an empty per-message cache.
func NewCache() *Cache {
	return &Cache{rows: make(map[cacheKey][]Row), max: DefaultCacheEntries}
}

func (c *Cache) get(q *Query, addr string) ([]Row, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.rows[cacheKey{q, addr}]
	if ok {
		c.hits++
	}
	return r, ok
}

func (c *Cache) put(q *Query, addr string, rows []Row) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rows) < c.max {
		c.rows[cacheKey{q, addr}] = rows
	}
}

// Len is the number of cached results.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rows)
}

// Hits is how many lookups the cache answered.
func (c *Cache) Hits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}

type cacheCtxKey struct{}

// WithCache returns a context carrying the per-message cache c.
func WithCache(ctx context.Context, c *Cache) context.Context {
	return context.WithValue(ctx, cacheCtxKey{}, c)
}

// CacheFrom returns the cache attached to ctx, or nil.
func CacheFrom(ctx context.Context) *Cache {
	c, _ := ctx.Value(cacheCtxKey{}).(*Cache)
	return c
}
